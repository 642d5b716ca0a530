"""InjectNonlocal on the backbones of unmodified upstream OpenMMLab configs (mmaction2 I3D-R50 and SlowFast-R50,
mmsegmentation DeepLabV3-R50 VOC), loaded with ``mmengine.Config.fromfile`` from a small config that inherits them.

Nothing remote can be fetched here, so pretrained weights are overridden the way a user would
(``cfg.merge_from_dict``, i.e. ``--cfg-options``): None, or a local file; mmseg's SyncBN becomes BN on CPU."""
import copy
import importlib
import textwrap

import pytest
import torch
from torch import nn

import snl_plugins  # noqa: F401  (InjectNonlocal in mmengine's MODELS; upstream workarounds)
from snl_plugins import SNL

# mmaction2 and mmseg are installed by `make test`; mmengine resolves their 'mmaction::' / 'mmseg::' bases with
# pkg_resources (setuptools<81, pinned): a missing one is an install defect, which fails here rather than skipping
import mmaction  # noqa: E402,F401
import mmseg  # noqa: E402,F401
import pkg_resources  # noqa: E402,F401
from mmengine.config import Config  # noqa: E402
from mmengine.registry import MODELS, DefaultScope, init_default_scope  # noqa: E402

I3D = 'mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py'
SLOWFAST = 'mmaction::recognition/slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py'
DEEPLAB = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py'
BN = dict(type='BN', requires_grad=True)




@pytest.fixture
def scope():
    """``init_default_scope`` for one test; the default scopes of the session are restored afterwards."""
    saved = dict(DefaultScope._instance_dict)
    registered = set()

    def enter(name):
        if name not in registered:  # mmaction.utils / mmseg.utils
            importlib.import_module(f'{name}.utils').register_all_modules(init_default_scope=False)
            registered.add(name)
        init_default_scope(name)

    yield enter
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


def load_config(tmp_path, base: str, at: str, **options) -> Config:
    """A config inheriting ``base`` whose backbone is replaced by InjectNonlocal around the upstream backbone."""
    path = tmp_path / 'snl_config.py'
    path.write_text(textwrap.dedent(f'''\
        _base_ = '{base}'
        model = dict(
            backbone=dict(_delete_=True, type='InjectNonlocal', module={{{{_base_.model.backbone}}}},
                          blocks=[dict(type='SNL', at='{at}', position='before')]))
        '''))
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(options)
    return cfg


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _snl_blocks(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, SNL)}


def check_backbone(backbone, plain, name, channels, x):
    """The SNL block is a named submodule at ``name``, the identity at init (same outputs as the plain upstream
    backbone with the same host weights, both ways of loading the checkpoint), and it trains."""
    blocks = _snl_blocks(backbone)
    assert list(blocks) == [name]
    block = blocks[name]
    assert block.in_channels == channels and block.dim == x.dim() - 2
    assert block.norm.weight.abs().sum() == 0

    state = backbone.state_dict()
    block_keys = sorted(k for k in state if k.startswith(name + '.'))
    assert block_keys and [k for k in state if k not in block_keys] == list(plain.state_dict())
    result = plain.load_state_dict(state, strict=False)
    assert result.missing_keys == [] and sorted(result.unexpected_keys) == block_keys
    result = backbone.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert set(result.missing_keys) - {k for k in block_keys if k.endswith('num_batches_tracked')} == {
        k for k in block_keys if not k.endswith('num_batches_tracked')}

    backbone.eval()  # mmaction's ResNet3d.train() returns None: do not chain
    plain.eval()
    with torch.no_grad():
        for a, b in zip(_outputs(backbone(x)), _outputs(plain(x)), strict=True):
            torch.testing.assert_close(a, b)

    backbone.train()
    opt = torch.optim.SGD(backbone.parameters(), lr=0.01)
    outs = _outputs(backbone(x))
    sum(o.square().mean() for o in outs).backward()
    missing = [n for n, p in backbone.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing[:5]
    assert all(p.grad is not None for p in block.parameters())
    assert block.norm.weight.grad.abs().sum() > 0
    opt.step()
    assert block.norm.weight.abs().sum() > 0  # the block is no longer the identity
    backbone.eval()
    with torch.no_grad():
        assert not torch.allclose(_outputs(backbone(x))[0], _outputs(plain(x))[0])
    return block


def test_i3d_r50(tmp_path, scope):
    cfg = load_config(tmp_path, I3D, 'layer3.-1', **{'model.backbone.module.pretrained': None})
    assert cfg.model.backbone.type == 'InjectNonlocal' and cfg.model.backbone.module.type == 'ResNet3d'
    assert cfg.model.cls_head.type == 'I3DHead'  # the rest of the upstream config is unchanged
    scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'Recognizer3D' and type(model.backbone).__name__ == 'ResNet3d'
    # ResNet3d.init_weights with pretrained=None sets every BatchNorm's weight to 1, the block's too:
    # InjectNonlocal puts the block's norm back to 0 (the identity start)
    model.init_weights()
    backbone = model.backbone
    block = backbone.layer3.snl_before_5
    assert block.norm.weight.abs().sum() == 0 and block.norm.bias.abs().sum() == 0
    assert backbone.layer3[0].conv1.bn.weight.eq(1).all()
    assert block.phi.weight.std() > 0
    plain = MODELS.build(cfg.model.backbone.module)
    assert type(plain).__name__ == 'ResNet3d'
    check_backbone(backbone, plain, 'layer3.snl_before_5', 1024, torch.randn(2, 3, 8, 32, 32))


def test_slowfast_r50_slow_pathway(tmp_path, scope):
    cfg = load_config(tmp_path, SLOWFAST, 'slow_path.layer3.-1', **{'model.backbone.module.pretrained': None})
    assert cfg.model.backbone.module.type == 'ResNet3dSlowFast'
    scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone
    assert type(backbone).__name__ == 'ResNet3dSlowFast'
    assert not _snl_blocks(backbone.fast_path)  # the slow pathway only
    plain = MODELS.build(cfg.model.backbone.module)
    block = check_backbone(backbone, plain, 'slow_path.layer3.snl_before_5', 1024, torch.randn(2, 3, 8, 32, 32))
    assert block is backbone.slow_path.layer3.snl_before_5


def test_deeplabv3_r50_voc(tmp_path, scope):
    bn = {f'model.{part}.norm_cfg': BN for part in ('backbone.module', 'decode_head', 'auxiliary_head')}
    cfg = load_config(tmp_path, DEEPLAB, 'layer3.-1', **bn)
    # upstream sets pretrained on the segmentor, which EncoderDecoder writes into our backbone config
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    assert cfg.model.backbone.module.type == 'ResNetV1c'
    scope('mmseg')
    # (EncoderDecoder writes into the config it is given: build from copies)
    unmodified = MODELS.build(copy.deepcopy(cfg.model))  # built, not initialised: nothing is fetched
    assert unmodified.backbone.pretrained == 'open-mmlab://resnet50_v1c'
    assert unmodified.backbone.init_cfg == dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')
    assert list(_snl_blocks(unmodified)) == ['backbone.layer3.snl_before_5']

    # a local file instead (what a user without network does), loaded by the upstream init_weights
    torch.manual_seed(0)
    plain = MODELS.build(cfg.model.backbone.module)
    plain.init_weights()
    with torch.no_grad():  # non-trivial BN statistics and affine parameters, as in real weights
        for m in plain.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.1, 0.1)
    path = tmp_path / 'resnet50_v1c.pth'
    torch.save(plain.state_dict(), path)
    cfg.merge_from_dict({'model.pretrained': str(path)})
    torch.manual_seed(1)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    backbone = model.backbone
    state = backbone.state_dict()
    for k, v in plain.state_dict().items():
        assert torch.equal(state[k], v), k
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        logits = model(x, mode='tensor')
    assert logits.shape == (2, 21, 8, 8)
    check_backbone(backbone, plain, 'layer3.snl_before_5', 1024, x)


def test_inject_nonlocal_rejects_bad_blocks_in_a_config(tmp_path, scope):
    cfg = load_config(tmp_path, I3D, 'layer3.9', **{'model.backbone.module.pretrained': None})
    scope('mmaction')
    with pytest.raises(ValueError, match=r'index 9 in "layer3.9" is out of range.*layer3.0, layer3.1'):
        MODELS.build(cfg.model.backbone)
