"""``torch.compile`` with inductor (C++ code generated for the CPU): every block traces without a graph break, and
the compiled block and one host model of each family (timm classification, mmaction2 I3D, mmseg DeepLabV3, re-ID
RTM) give the eager result.

``tests/blocks/test_robustness.py::test_torch_compile_matches_eager`` covers a few blocks with ``aot_eager``
(dynamo + AOTAutograd, parameter gradients, eval mode, no code generation); this file adds inductor's generated
code, training mode, dims 1 / 2 / 3 and the hosts.

Cost on the 2-core development machine (load 3-4): the whole file ~60 s with inductor's on-disk cache warm
(``TORCHINDUCTOR_CACHE_DIR``, a rerun), 3-5 min cold (~15 s of inductor start-up, ~4-10 s per compiled block,
20-45 s per host, whose tests are marked slow).
"""
import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

import snl_plugins
from snl_plugins.blocks import A2, CGNL, NL, NS, SNL, NonlocalStage, gSNL

from blocks.cases import ALL_FACTORIES, ALL_IDS, C1, spatial_for
from blocks.reference import randomize_norm

BLOCK_TYPES = (SNL, gSNL, NL, NS, A2, CGNL, NonlocalStage)
PACKAGE = snl_plugins.__path__[0]
BLOCK_CODE = (f'{PACKAGE}/blocks/', f'{PACKAGE}/ops/')  # where a graph break would be "inside a block"
RTOL, ATOL = 1e-5, 1e-6

# Compiled with inductor: every block type and path, dims 1 / 2 / 3 (~4 s each here, so a subset of ALL_BLOCKS,
# all of which go through dynamo below).
INDUCTOR = [
    'SNL-dot-sym-dense', 'SNL-dot-sym-factorised', 'SNL-embedded_gaussian', 'SNL-dot-1d',
    'gSNL-dot-row-dense', 'gSNL-dot-3d', 'NL-embedded_gaussian-fused', 'NL-embedded_gaussian-dense', 'NL-fused-3d',
    'NS-softmax', 'A2-3d', 'CGNL-dot', 'Stage-gSNL-factorised',
]
EXTRA = {'NL-fused-3d': lambda **o: NL(C1, dim=3, **o)}


def _factory(name):
    return EXTRA[name] if name in EXTRA else ALL_FACTORIES[ALL_IDS.index(name)]


def _block(factory, seed=0):
    """A block in training mode with random non-zero norms (so that the branch shows in the output)."""
    torch.manual_seed(seed)
    block = factory(zero_init=False)
    gen = torch.Generator().manual_seed(seed)
    for m in block.modules():
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm)):
            randomize_norm(m, gen)
    return block.train()


def _x(block, seed=1):
    return torch.randn(2, C1, *spatial_for(block.dim), generator=torch.Generator().manual_seed(seed))


def _breaks_inside(explained, code=BLOCK_CODE):
    """``'reason @ file:line'`` of each graph break whose user stack passes through ``code``."""
    return [f'{r.reason.splitlines()[0][:300]} @ {f.filename}:{f.lineno}'
            for r in explained.break_reasons for f in r.user_stack if f.filename.startswith(code)]


def _assert_no_break(explained, what):
    reasons = [f'{r.reason.splitlines()[0][:300]} @ ' + ' <- '.join(
        f'{f.filename}:{f.lineno}' for f in reversed(r.user_stack)) for r in explained.break_reasons]
    assert explained.graph_break_count == 0, f'{what}: {explained.graph_break_count} graph breaks:\n' + '\n'.join(
        reasons)


# ------------------------------------------------------------------------------------------------------- blocks
@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_every_block_traces_without_graph_breaks(factory, training):
    """dynamo only (no compilation): one graph, no break, for every block type, kernel, normalisation and path."""
    torch._dynamo.reset()
    block = _block(factory).train(training)
    explained = torch._dynamo.explain(block)(_x(block).requires_grad_())
    _assert_no_break(explained, type(block).__name__)
    assert explained.graph_count == 1


@pytest.mark.parametrize('name', INDUCTOR)
def test_inductor_matches_eager(name):
    """Forward, input gradient and parameter gradients of the inductor-compiled block equal eager (float32,
    training mode); ``fullgraph=True`` raises on any graph break."""
    torch._dynamo.reset()
    block = _block(_factory(name))
    x = _x(block)
    target = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    params = list(block.parameters())
    compiled = torch.compile(block, backend='inductor', fullgraph=True)
    results = []
    for fn in (block, compiled):
        xi = x.clone().requires_grad_()
        y = fn(xi)
        results.append((y.detach(), *torch.autograd.grad((y * target).sum(), [xi, *params])))
    names = ['output', 'input gradient'] + [f'gradient of {n}' for n, _ in block.named_parameters()]
    # absolute tolerance from the largest gradient: some gradients are 0 up to rounding (CGNL-dot's phi: its
    # GroupNorm cancels the scale that phi sets), and rounding differs between eager and inductor
    scale = max(g.abs().max().item() for g in results[0][1:])
    for what, eager, comp in zip(names, *results):
        atol = ATOL * (eager.abs().max().item() if what == 'output' else scale)
        torch.testing.assert_close(comp, eager, rtol=RTOL, atol=atol, msg=lambda m, what=what: f'{name}, {what}: {m}')


# -------------------------------------------------------------------------------------------------------- hosts
def _activate(model):
    """Non-zero norms in every block (they start as the identity), so that the host's output depends on them."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, BLOCK_TYPES):
            for norm in m.modules():
                if isinstance(norm, torch.nn.modules.batchnorm._BatchNorm):
                    randomize_norm(norm, gen)
    return model


def _outer_blocks(model):
    blocks = {n: m for n, m in model.named_modules() if isinstance(m, BLOCK_TYPES)}
    return {n: m for n, m in blocks.items() if not any(n.startswith(o + '.') for o in blocks if o != n)}


class _Call(torch.nn.Module):
    """``model(*args, **kwargs)`` as a module of one tensor (OpenMMLab models take ``mode='tensor'``)."""

    def __init__(self, model, **kwargs):
        super().__init__()
        self.model, self.kwargs = model, kwargs

    def forward(self, x):
        return self.model(x, **self.kwargs)


def check_host(host, x, min_blocks=1):
    """No graph break inside a block of ``host`` (breaks elsewhere in the host are allowed), each block traced into
    a graph, and the inductor-compiled host's forward equal to eager (eval mode, float32)."""
    torch._dynamo.reset()
    host = _activate(host)
    host.eval()  # mmaction2's ResNet3d.train() returns None: no chaining
    blocks = _outer_blocks(host)
    assert len(blocks) >= min_blocks, list(blocks)
    # 1. the host as dynamo sees it: no break inside a block, and every block's code in some graph
    explained = torch._dynamo.explain(host)(x)
    assert not _breaks_inside(explained), _breaks_inside(explained)
    traced = {frame for g in explained.graphs for node in g.graph.nodes
              for frame in (node.meta.get('stack_trace') or '').split('File "')[1:] if frame.startswith(BLOCK_CODE)}
    assert traced, 'no block code in the graphs dynamo captured: the blocks ran eagerly'
    # 2. each block on the input it gets inside the host: one graph, no break
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=n: inputs.setdefault(name, args[0].detach().clone()))
             for n, m in blocks.items()]
    with torch.no_grad():
        eager = host(x)
    for h in hooks:
        h.remove()
    assert set(inputs) == set(blocks)
    for name, block in blocks.items():
        _assert_no_break(torch._dynamo.explain(block)(inputs[name]), f'{name} inside {type(host).__name__}')
    # 3. inductor: the compiled host gives the eager output
    torch._dynamo.reset()
    before = counters['stats']['unique_graphs']
    compiled = torch.compile(host, backend='inductor')
    with torch.no_grad():
        out = compiled(x)
    assert counters['stats']['unique_graphs'] > before, 'nothing was compiled'
    torch.testing.assert_close(out, eager, rtol=RTOL * 10, atol=ATOL * 10 * eager.abs().max().item())
    return blocks


@pytest.mark.slow
def test_timm_classifier_compiles():
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model('resnet18_snl', num_classes=5)
    blocks = check_host(model, torch.randn(2, 3, 64, 64))
    assert [type(b).__name__ for b in blocks.values()] == ['SNL']


def _openmmlab_scope(scope):
    """Register an OpenMMLab library's modules and make its scope current for the test."""
    import importlib

    pytest.importorskip(scope)
    from mmengine.registry import DefaultScope
    importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope(scope):
        yield


@pytest.fixture
def mmaction_scope():
    yield from _openmmlab_scope('mmaction')


@pytest.mark.slow
def test_mmaction_i3d_with_snl_compiles(mmaction_scope):
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    i3d = dict(type='ResNet3d', depth=50, pretrained=None, pretrained2d=False, conv1_kernel=(5, 7, 7),
               conv1_stride_t=2, pool1_stride_t=2, inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
               zero_init_residual=False)
    model = MODELS.build(dict(type='InjectNonlocal', module=i3d,
                              blocks=[dict(type='SNL', at='layer3.-1', position='before')]))
    model.init_weights()
    check_host(model, torch.randn(1, 3, 8, 64, 64))  # res4 (layer3): 1 x 4 x 4


@pytest.fixture
def mmseg_scope():
    pytest.importorskip('mmseg')
    import snl_plugins.mmseg  # noqa: F401
    yield from _openmmlab_scope('mmseg')


@pytest.mark.slow
def test_mmseg_deeplabv3_with_snl_compiles(mmseg_scope):
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    norm = dict(type='BN', requires_grad=True)
    model = MODELS.build(dict(
        type='EncoderDecoder', data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='InjectNonlocal',
                      module=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                                  dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm, contract_dilation=True),
                      blocks=[dict(type='SNL', at='layer3.-1', position='before', path='factorised')]),
        decode_head=dict(type='ASPPHead', in_channels=512, in_index=3, channels=16, dilations=(1, 12, 24, 36),
                         num_classes=3, norm_cfg=norm, align_corners=False),
        train_cfg=dict(), test_cfg=dict(mode='whole')))
    check_host(_Call(model, mode='tensor'), torch.randn(1, 3, 64, 64))  # res4: 8 x 8, factorised path


@pytest.mark.slow
def test_reid_rtm_with_2d_and_3d_blocks_compiles():
    pytest.importorskip('mmengine')
    from snl_plugins.reid import RTM
    torch.manual_seed(0)
    model = RTM(num_classes=3, temporal='tp', backbone=dict(name='resnet18'), frame_size=(64, 32),
                nonlocal_blocks=[dict(type='SNL', at='layer3.-1', dim=3), dict(type='gSNL', at='layer2.-1')])
    blocks = check_host(model, torch.randn(1, 2, 3, 64, 32), min_blocks=2)  # B x T x C x H x W
    assert sorted(type(b).__name__ for b in blocks.values()) == ['SNL', 'gSNL']
