"""insert_nonlocal / inject_nonlocal / InjectNonlocal on plain PyTorch hosts: timm and torchvision ResNets, an
``nn.Sequential``, and a custom module whose target is not in a Sequential (the hook path).

What every host must keep: its outputs at init (the blocks start as the identity), its parameter names (a checkpoint
of the plain host loads with only the blocks missing), and its forward contract; what the blocks must be: ordinary
submodules (named_modules, state_dict, deepcopy, torch.compile) that train."""
import contextlib
import copy
import io

import pytest
import timm
import torch
import torchvision
from mmengine.registry import MODELS
from torch import nn

import snl_plugins
from snl_plugins import A2, SNL, NonlocalBlock, NonlocalStage, gSNL, inject_nonlocal, insert_nonlocal




# ---- hosts ----------------------------------------------------------------------------------------------------

def seq_host() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))


class HookHost(nn.Module):
    """The blocks' targets (``body``, ``head_conv``) are attributes called from a hand-written forward."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.body = nn.Conv2d(8, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.bn(self.body(torch.relu(self.stem(x)))))
        return self.head(x.mean((2, 3)))


class NoConvHost(nn.Module):
    """Channels cannot be read from attributes here (a pooling target): only a probe forward tells them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)).mean((2, 3)))


class NoConvTwoInputs(NoConvHost):
    def forward(self, x, scale):  # a made-up probe cannot call it
        return super().forward(x) * scale


class ListHost(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 1)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


HOSTS = {
    'timm': (lambda: timm.create_model('resnet18', num_classes=4), (2, 3, 64, 64),
             [dict(type='SNL', at='layer3.-1', position='before'), dict(type='NL', at='layer2.0', position='after')],
             {'layer3.snl_before_1': 256, 'layer2.nl_after_0': 128}),
    'torchvision': (lambda: torchvision.models.resnet18(num_classes=4), (2, 3, 64, 64),
                    [dict(type='gSNL', at='layer4.-2', position='after'),
                     dict(type='A2', at='layer1.1', position='before')],
                    {'layer4.gsnl_after_0': 512, 'layer1.a2_before_1': 64}),
    'sequential': (seq_host, (2, 3, 16, 16),
                   [dict(type='SNL', at='-6', position='before'), dict(type='CGNL', at='0', position='after', groups=4),
                    dict(type='NS', at='3', position='after')],
                   {'snl_before_3': 8, 'cgnl_after_0': 8, 'ns_after_3': 16}),
    'hook': (HookHost, (2, 3, 8, 8),
             [dict(type='SNL', at='body', position='before'), dict(type='gSNL', at='body', position='after')],
             {'body.snl_before_body': 8, 'body.gsnl_after_body': 16}),
}


def _make_blocks_matter(blocks, value=0.5):
    for block in blocks:
        for m in block.modules():
            if isinstance(m, NonlocalBlock):
                nn.init.constant_(m.norm.weight, value)


def _is_block_key(key, inserted):
    return any(key.startswith(name + '.') for name in inserted)


@pytest.mark.parametrize('host', list(HOSTS))
def test_host_contract(host):
    """Names, channels, identity at init, checkpoint compatibility, a training step, named_modules / state_dict."""
    make, shape, blocks, expected = HOSTS[host]
    torch.manual_seed(0)
    model = make()
    plain = copy.deepcopy(model)
    inserted = insert_nonlocal(model, blocks)
    assert {k: b.in_channels for k, b in inserted.items()} == expected

    modules = dict(model.named_modules())
    for name, block in inserted.items():
        assert modules[name] is block
        assert block.norm.weight.abs().sum() == 0

    # host parameter names and order unchanged; the extra keys are exactly the blocks'
    state = model.state_dict()
    assert [k for k in state if not _is_block_key(k, inserted)] == list(plain.state_dict())
    block_keys = sorted(k for k in state if _is_block_key(k, inserted))
    assert block_keys and block_keys == sorted(f'{n}.{k}' for n, b in inserted.items() for k in b.state_dict())
    assert {n for n, _ in model.named_parameters()} >= {n for n, _ in plain.named_parameters()}

    # a checkpoint of the plain host loads with only the blocks missing
    fresh = make()
    insert_nonlocal(fresh, blocks)
    result = fresh.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    # (BatchNorm fills in a missing num_batches_tracked of a checkpoint without version metadata)
    assert sorted(k for k in result.missing_keys if not k.endswith('num_batches_tracked')) == [
        k for k in block_keys if not k.endswith('num_batches_tracked')]

    x = torch.randn(shape)
    model.eval(), plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x))  # identity at init
    y0 = model(x).detach()

    # one training step of the blocks alone changes the outputs (eval mode: no running-stat updates)
    opt = torch.optim.SGD([p for b in inserted.values() for p in b.parameters()], lr=0.01)
    target = torch.randn_like(y0)
    loss = (model(x) - target).square().mean()
    loss.backward()
    assert all(b.norm.weight.grad.abs().sum() > 0 for b in inserted.values())
    opt.step()
    with torch.no_grad():
        y1 = model(x)
        assert not torch.allclose(y1, y0)
        assert (model(x) - target).square().mean() < loss  # the step went downhill
        torch.testing.assert_close(plain(x), y0)


def test_train_mode_step_on_timm_and_all_params_get_grads():
    torch.manual_seed(0)
    model = timm.create_model('resnet18', num_classes=4)
    inserted = insert_nonlocal(model, [dict(type='SNL', at='layer3.-1')])
    block = inserted['layer3.snl_before_1']
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(2, 3, 64, 64)
    model(x).logsumexp(1).mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    opt.step()
    assert block.norm.weight.abs().sum() > 0


def test_hook_path_placement_and_deepcopy_runs_the_copy():
    torch.manual_seed(0)
    model = HookHost()
    inserted = insert_nonlocal(model, [dict(type='SNL', at='body', position='before'),
                                       dict(type='SNL', at='body', position='after')])
    assert list(inserted) == ['body.snl_before_body', 'body.snl_after_body']
    assert inserted['body.snl_before_body'].in_channels == 8 and inserted['body.snl_after_body'].in_channels == 16
    assert list(model._modules) == ['stem', 'body', 'bn', 'head']  # the host's own layout is untouched
    x = torch.randn(2, 3, 8, 8)

    twin = copy.deepcopy(model)
    pickled = io.BytesIO()
    torch.save(twin, pickled)  # before the test's own (unpicklable) counting hooks go on
    calls = []
    for name, block in inserted.items():
        block.register_forward_hook(lambda *a, name=name: calls.append(('original', name)))
        twin.get_submodule(name).register_forward_hook(lambda *a, name=name: calls.append(('copy', name)))
        assert twin.get_submodule(name) is not block
    twin.eval(), model.eval()
    with torch.no_grad():
        twin(x)
    assert calls == [('copy', 'body.snl_before_body'), ('copy', 'body.snl_after_body')]
    calls.clear()
    with torch.no_grad():
        ref = model(x)
        assert calls == [('original', 'body.snl_before_body'), ('original', 'body.snl_after_body')]
        _make_blocks_matter([twin.body.snl_before_body])
        assert not torch.allclose(twin(x), ref)
        torch.testing.assert_close(model(x), ref)  # the original's block was not touched

    # a pickled round trip (torch.save of the whole module) keeps the hooks pointing at its own blocks
    pickled.seek(0)
    loaded = torch.load(pickled, weights_only=False).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), ref)
        _make_blocks_matter([loaded.body.snl_after_body], 1.0)
        assert not torch.allclose(loaded(x), ref)
        torch.testing.assert_close(model(x), ref)


def test_sequential_insertions_resolved_on_the_original_model():
    """Indices refer to the model as passed: inserting before '3' does not shift '4' onto the new block."""
    model = seq_host()
    inserted = insert_nonlocal(model, [dict(type='SNL', at='3', position='before'),
                                       dict(type='NL', at='4', position='before', in_channels=16, dim=2),
                                       dict(type='gSNL', at='-9', position='before'),
                                       dict(type='SNL', at='3', position='after')])
    assert list(model._modules) == ['gsnl_before_0', '0', '1', '2', 'snl_before_3', '3', 'snl_after_3',
                                    'nl_before_4', '4', '5', '6', '7', '8']
    assert [b.in_channels for b in inserted.values()] == [8, 16, 3, 16]
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4)


def test_same_position_twice_gets_unique_names():
    model = timm.create_model('resnet18', num_classes=4)
    inserted = insert_nonlocal(model, [dict(type='SNL', at='layer3.1'), dict(type='SNL', at='layer3.1')])
    assert list(inserted) == ['layer3.snl_before_1', 'layer3.snl_before_1_2']
    assert list(model.layer3._modules) == ['0', 'snl_before_1', 'snl_before_1_2', '1']


def test_stage_units_and_num_blocks():
    torch.manual_seed(0)
    model = timm.create_model('resnet18', num_classes=4)
    plain = copy.deepcopy(model).eval()
    inserted = insert_nonlocal(model, [
        dict(type='NonlocalStage', unit='SNL', num_units=3, at='layer3.-1'),
        dict(type='A2', num_blocks=2, at='layer2.-1', position='after'),
        dict(type='gSNL', num_blocks=3, at='layer1.0', reduction=4),
    ])
    stage = inserted['layer3.snl_before_1']
    assert isinstance(stage, NonlocalStage) and len(stage.units) == 3 and stage.in_channels == 256
    assert all(isinstance(u, SNL) for u in stage.units)
    pair = inserted['layer2.a2_after_1']
    assert isinstance(pair, nn.Sequential) and [type(b) for b in pair] == [A2, A2] and pair[0] is not pair[1]
    three = inserted['layer1.gsnl_before_0']
    assert [type(b) for b in three] == [gSNL] * 3 and all(b.inter_channels == 16 for b in three)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match='num_blocks'):
        insert_nonlocal(timm.create_model('resnet18'), [dict(type='SNL', at='layer1.0', num_blocks=0)])


def test_channels_from_attributes_and_from_a_probe():
    """Before / after a stage whose channels change; the same from a probe forward (input_shape); 1D and 3D hosts."""
    blocks = [dict(type='SNL', at='layer2', position='before'), dict(type='SNL', at='layer2', position='after'),
              dict(type='NL', at='layer2.0', position='after'), dict(type='SNL', at='layer4.0.conv1')]
    want = {'snl_before_layer2': (64, 2), 'snl_after_layer2': (128, 2), 'layer2.nl_after_0': (128, 2),
            'layer4.0.conv1.snl_before_conv1': (256, 2)}
    for input_shape in (None, (1, 3, 64, 64)):
        model = timm.create_model('resnet18', num_classes=4)
        inserted = insert_nonlocal(model, blocks, input_shape=input_shape)
        assert {k: (b.in_channels, b.dim) for k, b in inserted.items()} == want, input_shape
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 4)

    # a target without conv layers: only a forward can tell, the made-up probe or one on input_shape
    host = NoConvHost()
    inserted = insert_nonlocal(host, [dict(type='SNL', at='pool', position='after')])
    assert inserted['pool.snl_after_pool'].in_channels == 6
    with pytest.raises(ValueError, match=r'cannot tell the channels after "pool" from its layers, and a probe '
                                         r'forward on zeros of \(8, 3, 64, 64\) failed \(TypeError'):
        insert_nonlocal(NoConvTwoInputs(), [dict(type='SNL', at='pool', position='after')])
    host = NoConvHost()
    inserted = insert_nonlocal(host, [dict(type='SNL', at='pool', position='after')], input_shape=(1, 3, 8, 8))
    assert inserted['pool.snl_after_pool'].in_channels == 6
    assert host(torch.randn(2, 3, 8, 8)).shape == (2, 2)
    # explicit in_channels / dim win and need neither
    host = NoConvHost()
    inserted = insert_nonlocal(host, [dict(type='NS', at='pool', position='before', in_channels=6, dim=2)])
    assert inserted['pool.ns_before_pool'].in_channels == 6

    for conv, shape, dim in ((nn.Conv1d, (2, 3, 16), 1), (nn.Conv3d, (2, 3, 4, 8, 8), 3)):
        for input_shape in (None, shape):
            model = nn.Sequential(conv(3, 8, 1), nn.ReLU(), conv(8, 12, 1))
            plain = copy.deepcopy(model)
            inserted = insert_nonlocal(model, [dict(type='SNL', at='2', position='before'),
                                               dict(type='NL', at='-1', position='after')], input_shape=input_shape)
            assert [(b.in_channels, b.dim) for b in inserted.values()] == [(8, dim), (12, dim)]
            x = torch.randn(shape)
            torch.testing.assert_close(model(x), plain(x))


class RegisteredOutOfOrder(nn.Module):
    """Layers registered in another order than they run: only a forward tells the channels between them."""

    def __init__(self):
        super().__init__()
        self.late = nn.Conv2d(8, 16, 1)
        self.early = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        return self.late(self.early(x))


class TwoInputs(RegisteredOutOfOrder):
    def forward(self, x, scale):  # a made-up probe cannot call it
        return super().forward(x) * scale


def test_channels_follow_the_order_layers_run_not_the_order_they_were_registered():
    model = nn.Sequential(RegisteredOutOfOrder(), nn.ReLU())
    inserted = insert_nonlocal(model, [dict(type='SNL', at='0', position='before'),
                                       dict(type='SNL', at='0', position='after')])
    assert [b.in_channels for b in inserted.values()] == [3, 16]
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 16, 8, 8)
    # without a forward it can run, the layers tell the channels only where they run in the order registered:
    # a convolution's output, or a Sequential chain ...
    host = TwoInputs()
    inserted = insert_nonlocal(host, [dict(type='SNL', at='early', position='after')])
    assert inserted['early.snl_after_early'].in_channels == 8
    assert host(torch.randn(1, 3, 8, 8), 2.0).shape == (1, 16, 8, 8)
    host = nn.Sequential(TwoInputs())
    host[0].early = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 8, 1), nn.MaxPool2d(2))
    inserted = insert_nonlocal(host, [dict(type='SNL', at='0.early', position='before'),
                                      dict(type='SNL', at='0.early', position='after')])
    assert [b.in_channels for b in inserted.values()] == [3, 8]
    # ... never a module whose forward orders them: refused, naming why the probe failed and what to pass
    host = nn.Sequential(TwoInputs())
    for position in ('before', 'after'):
        with pytest.raises(ValueError, match=rf'cannot tell the channels {position} "0" from its layers \(TwoInputs '
                                             r'runs them in an order only its forward knows\), and a probe forward on '
                                             r'zeros of \(8, 8, 64, 64\) failed \(TypeError.*; of \(8, 3, 64, 64\) '
                                             r'failed .*: pass in_channels and dim in the block config, or an '
                                             r'input_shape the model takes'):
            insert_nonlocal(host, [dict(type='SNL', at='0', position=position)])
    assert not any(isinstance(m, SNL) for m in host.modules())  # the host is left as it was
    inserted = insert_nonlocal(host, [dict(type='SNL', at='0', position='after', in_channels=16, dim=2)])
    assert list(inserted.values()) == [host[1]] and host[1].in_channels == 16


class SkipsLate(nn.Module):
    """A forward that never runs one of its modules on this input (a branch taken for other inputs only)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.unused = RegisteredOutOfOrder()
        self.unused.early = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        return self.stem(x) if x.shape[-1] > 1 else self.unused(self.stem(x))


def test_a_target_the_probe_does_not_reach_is_read_from_its_layers_only_where_certain():
    with pytest.raises(ValueError, match=r'cannot tell the channels after "unused" from its layers \(Registered'
                                         r'OutOfOrder runs them .*\), and the probe forward on zeros of '
                                         r'\(8, 3, 64, 64\) did not run it'):
        insert_nonlocal(SkipsLate(), [dict(type='SNL', at='unused', position='after')])
    with pytest.raises(ValueError, match=r'and the forward on zeros of \(1, 3, 8, 8\) did not run it'):
        insert_nonlocal(SkipsLate(), [dict(type='SNL', at='unused', position='after')], input_shape=(1, 3, 8, 8))
    inserted = insert_nonlocal(SkipsLate(), [dict(type='SNL', at='unused.late', position='after')])
    assert inserted['unused.late.snl_after_late'].in_channels == 16  # a convolution: certain


def test_probe_leaves_mode_and_state_alone():
    model = timm.create_model('resnet18', num_classes=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    insert_nonlocal(model, [dict(type='SNL', at='layer3.-1')], input_shape=(1, 3, 64, 64))
    assert model.training
    state = model.state_dict()
    for k, v in before.items():
        assert torch.equal(state[k], v), k  # no running-stat update, no hook left behind
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_blocks_under_torch_compile():
    torch.manual_seed(0)
    for make, blocks, shape in ((lambda: timm.create_model('resnet18', num_classes=4),
                                 [dict(type='SNL', at='layer3.-1')], (2, 3, 64, 64)),
                                (HookHost, [dict(type='gSNL', at='body', position='after'),
                                            dict(type='SNL', at='stem', position='before', in_channels=3, dim=2)],
                                 (2, 3, 8, 8))):
        model = make().eval()
        inserted = insert_nonlocal(model, blocks)
        _make_blocks_matter(inserted.values())
        compiled = torch.compile(model, backend='eager')
        x = torch.randn(shape)
        with torch.no_grad():
            ref = model(x)
            torch.testing.assert_close(compiled(x), ref)
            _make_blocks_matter(inserted.values(), 0.0)
            plain_out = model(x)
        assert not torch.allclose(plain_out, ref)  # the compiled forward ran the blocks


# ---- the public interface: inject_nonlocal and MODELS.build(InjectNonlocal) -------------------------------------

@MODELS.register_module(name='_SNLTestHost', force=True)
class _RegisteredHost(nn.Module):
    def __init__(self, width: int = 8, pretrained=None):
        super().__init__()
        self.pretrained = pretrained
        self.layers = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                                    nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        self.inits = 0

    def init_weights(self):
        """Like mmaction2's ResNet3d from scratch: every BatchNorm (the blocks' too) to weight 1, bias 0."""
        self.inits += 1
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.layers(x)


def test_public_names():
    assert snl_plugins.insert_nonlocal is insert_nonlocal
    assert snl_plugins.inject_nonlocal is inject_nonlocal
    assert MODELS.get('InjectNonlocal') is inject_nonlocal


def test_inject_nonlocal_from_config_and_from_module():
    blocks = [dict(type='SNL', at='layers.-2', position='before'), dict(type='NL', at='layers.3', position='after')]
    model = MODELS.build(dict(type='InjectNonlocal', module=dict(type='_SNLTestHost', width=6), blocks=blocks))
    assert type(model) is _RegisteredHost  # the host keeps its class
    assert list(model.layers._modules) == ['0', '1', '2', 'snl_before_3', '3', 'nl_after_3', '4']
    assert model.layers.snl_before_3.in_channels == 6 and model.layers.nl_after_3.in_channels == 6

    host = _RegisteredHost()
    assert inject_nonlocal(host, blocks=[dict(type='SNL', at='layers.0', position='after')]) is host
    assert isinstance(host.layers[1], SNL)
    built = MODELS.build(dict(type='InjectNonlocal', module=_RegisteredHost(), blocks=blocks,
                              input_shape=(1, 3, 8, 8)))
    assert isinstance(built.layers.snl_before_3, SNL)

    with pytest.raises(TypeError, match='module or a module config'):
        inject_nonlocal(42, blocks)


def test_inject_nonlocal_init_weights_restores_the_identity_start():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='InjectNonlocal', module=dict(type='_SNLTestHost'),
                              blocks=[dict(type='SNL', at='layers.3')]))
    block = model.layers.snl_before_3
    model.init_weights()
    assert model.inits == 1
    assert block.norm.weight.abs().sum() == 0 and model.layers[1].weight.eq(1).all()
    plain = _RegisteredHost()
    plain.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(2, 3, 8, 8)
    model.eval(), plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x))
    # the replacement survives deepcopy and acts on the copy
    twin = copy.deepcopy(model)
    nn.init.constant_(block.norm.weight, 0.3)  # the original's block, trained meanwhile
    twin.init_weights()
    assert twin.inits == 2 and model.inits == 1
    assert twin.layers.snl_before_3.norm.weight.abs().sum() == 0
    assert torch.allclose(block.norm.weight, torch.full_like(block.norm.weight, 0.3))


def test_inject_nonlocal_passes_pretrained_to_the_host_config():
    """mmseg's EncoderDecoder(pretrained=...) writes ``pretrained`` into the backbone config, i.e. ours."""
    blocks = [dict(type='SNL', at='layers.3')]
    model = MODELS.build(dict(type='InjectNonlocal', module=dict(type='_SNLTestHost'), blocks=blocks,
                              pretrained='local.pth'))
    assert model.pretrained == 'local.pth'
    model = MODELS.build(dict(type='InjectNonlocal', module=dict(type='_SNLTestHost', pretrained='a.pth'),
                              blocks=blocks, pretrained='a.pth'))
    assert model.pretrained == 'a.pth'
    with pytest.raises(ValueError, match='both'):
        MODELS.build(dict(type='InjectNonlocal', module=dict(type='_SNLTestHost', pretrained='a.pth'),
                          blocks=blocks, pretrained='b.pth'))
    with pytest.raises(TypeError, match='pretrained'):
        inject_nonlocal(_RegisteredHost(), blocks, pretrained='a.pth')


# ---- errors ---------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _unchanged(model):
    """Wraps a ``pytest.raises`` block: nothing was inserted before the error."""
    keys = list(model.state_dict())
    modules = [n for n, _ in model.named_modules()]
    yield
    assert list(model.state_dict()) == keys
    assert [n for n, _ in model.named_modules()] == modules


@pytest.mark.parametrize('at,pattern,listed', [
    ('layer5', r'no submodule "layer5" in the model', ['layer1', 'layer4', 'fc']),
    ('layer3.bogus', r'no submodule "bogus" in layer3', ['layer3.0', 'layer3.1']),
    ('layer3.2', r'index 2 in "layer3.2" is out of range', ['layer3.0', 'layer3.1']),
    ('layer3.-3', r'index -3 in "layer3.-3" is out of range', ['layer3.0', 'layer3.1']),
    ('layer3.1.conv9', r'no submodule "conv9" in layer3.1', ['layer3.1.conv1', 'layer3.1.conv2']),
])
def test_bad_paths_list_the_valid_ones(at, pattern, listed):
    model = timm.create_model('resnet18')
    with _unchanged(model), pytest.raises(ValueError, match=pattern) as info:
        insert_nonlocal(model, [dict(type='SNL', at='layer1.0'), dict(type='SNL', at=at)])
    for path in listed:
        assert path in str(info.value)


def test_close_names_are_suggested():
    with pytest.raises(ValueError, match="Did you mean 'layer3'"):
        insert_nonlocal(timm.create_model('resnet18'), [dict(type='SNL', at='layr3.-1')])
    model = timm.create_model('resnet18')
    with _unchanged(model), pytest.raises(ValueError, match=r"unknown block type 'snl': not one of SNL, gSNL, .* "
                                                            r"and not in mmengine's MODELS .*Did you mean 'SNL'\?"):
        insert_nonlocal(model, [dict(type='snl', at='layer3.-1')])


def test_module_without_a_suitable_tensor():
    model = timm.create_model('resnet18')
    with _unchanged(model), pytest.raises(ValueError, match=r'"fc" receives a 2-D tensor') as info:
        insert_nonlocal(model, [dict(type='SNL', at='layer3.0'), dict(type='SNL', at='fc')],
                        input_shape=(1, 3, 64, 64))
    for path in ('layer4', 'global_pool', 'fc'):
        assert path in str(info.value)
    with _unchanged(model), pytest.raises(ValueError, match=r'"fc" receives a 2-D tensor'):  # the made-up probe
        insert_nonlocal(model, [dict(type='SNL', at='layer3.0'), dict(type='SNL', at='fc')])
    with _unchanged(model), pytest.raises(ValueError, match=r'"global_pool" returns a 2-D tensor'):
        insert_nonlocal(model, [dict(type='SNL', at='global_pool', position='after')], input_shape=(1, 3, 64, 64))


def test_bad_position_and_missing_keys():
    model = timm.create_model('resnet18')
    with _unchanged(model), pytest.raises(ValueError, match=r"unknown position 'middle'.*before.*after"):
        insert_nonlocal(model, [dict(type='SNL', at='layer3.-1'), dict(type='SNL', at='layer3.-1', position='middle')])
    with _unchanged(model), pytest.raises(ValueError, match=r'block 0 needs a "type" and an "at"'):
        insert_nonlocal(model, [dict(type='SNL', position='before')])
    with _unchanged(model), pytest.raises(ValueError, match=r'block 1 needs a "type" and an "at"'):
        insert_nonlocal(model, [dict(type='SNL', at='layer1.0'), dict(at='layer1.0')])
    for at in ('', None, 3):
        with _unchanged(model), pytest.raises(ValueError, match='non-empty dotted string'):
            insert_nonlocal(model, [dict(type='SNL', at=at)])


def test_targets_a_hook_could_never_run_are_refused():
    """A ModuleList is iterated, never called: a block hooked on it would silently never run."""
    host = ListHost()
    with _unchanged(host), pytest.raises(ValueError, match='ModuleList.*never calls') as info:
        insert_nonlocal(host, [dict(type='SNL', at='blocks.1', position='after'),
                               dict(type='SNL', at='blocks', position='after')])
    assert 'blocks.0' in str(info.value) and 'blocks.1' in str(info.value)
    inserted = insert_nonlocal(host, [dict(type='SNL', at='blocks.-1', position='after')])  # an item works
    assert list(inserted) == ['blocks.1.snl_after_1']
    calls = []
    inserted['blocks.1.snl_after_1'].register_forward_hook(lambda *a: calls.append(1))
    host(torch.randn(1, 3, 4, 4))
    assert calls == [1]


def test_bad_block_config_leaves_the_host_unchanged():
    model = timm.create_model('resnet18')
    with _unchanged(model), pytest.raises((ValueError, KeyError)):
        insert_nonlocal(model, [dict(type='SNL', at='layer1.0'), dict(type='NoSuchBlock', at='layer2.0')])
    with _unchanged(model), pytest.raises(ValueError, match='groups'):
        insert_nonlocal(model, [dict(type='SNL', at='layer1.0'), dict(type='CGNL', at='layer2.0', groups=7)])


class _CheckpointHost(_RegisteredHost):
    """A host whose init_weights re-initialises every convolution, then loads a checkpoint if it has one (as
    mmengine's ``init_cfg=dict(type='Pretrained')`` does)."""

    def __init__(self, width: int = 8, checkpoint=None):
        super().__init__(width)
        self.checkpoint = checkpoint

    def init_weights(self):
        super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.constant_(m.weight, 0.01)
        if self.checkpoint is not None:
            self.load_state_dict(self.checkpoint, strict=False)


def test_host_init_leaves_blocks_as_they_were_unless_a_checkpoint_reaches_them():
    """By provenance, not by value: the host's blanket init (BN weights to 1, convolutions re-initialised) is undone
    for the blocks, and what a checkpoint loads into them is kept, even a norm of exactly weight 1 and bias 0."""
    torch.manual_seed(0)
    model = inject_nonlocal(_CheckpointHost(), blocks=[dict(type='SNL', at='layers.3')])
    block = model.layers.snl_before_3
    before = {k: v.clone() for k, v in block.state_dict().items()}
    model.init_weights()
    for k, v in block.state_dict().items():
        assert torch.equal(v, before[k]), k  # phi, psi, g, w1, w2 kept too, not only the norm
    assert model.layers[0].weight.eq(0.01).all()  # the host's own layers did get its init

    trained = {k: v.clone() for k, v in model.state_dict().items()}
    trained['layers.snl_before_3.norm.weight'] = torch.ones(8)
    trained['layers.snl_before_3.norm.bias'] = torch.zeros(8)
    trained['layers.snl_before_3.g.weight'] = torch.full_like(trained['layers.snl_before_3.g.weight'], 0.5)
    torch.manual_seed(1)
    model = inject_nonlocal(_CheckpointHost(checkpoint=trained), blocks=[dict(type='SNL', at='layers.3')])
    model.init_weights()
    block = model.layers.snl_before_3
    assert block.norm.weight.eq(1).all() and block.g.weight.eq(0.5).all()
