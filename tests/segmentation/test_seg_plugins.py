"""mmseg's own way to put a block inside its ResNet, ``plugins=`` (issue 17), building our blocks: the config
``deeplabv3_r50-d8-snlplugin_4xb4-20k_voc12aug-512x512.py`` builds an SNL in every bottleneck of res4 with the
arguments mmcv's plugin builder passes (``in_channels``), starts as the identity, and loads the plain DeepLabV3's
weights with only the blocks missing, as the InjectNonlocal config does (docs/plugins.md). Training and testing
through our tools and the ONNX export of the trained checkpoint: tests/e2e/test_seg_plugin_tools.py."""
from pathlib import Path

import pytest
import torch

pytest.importorskip('mmseg')
from mmengine.registry import DefaultScope  # noqa: E402

import snl_plugins  # noqa: E402,F401
from snl_plugins.analysis.common import load_model  # noqa: E402
from snl_plugins.blocks import BLOCKS, SNL, gSNL  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEEPLAB = ROOT / 'configs/segmentation/deeplabv3'
PLAIN = DEEPLAB / 'deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py'
PLUGIN = DEEPLAB / 'deeplabv3_r50-d8-snlplugin_4xb4-20k_voc12aug-512x512.py'
INJECT = DEEPLAB / 'deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'
NO_WEIGHTS = {'model.pretrained': None}


@pytest.fixture(scope='module')
def models():
    """The plain, plugin and InjectNonlocal DeepLabV3-R50-D8 (eval mode, SyncBN acting as BatchNorm)."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        torch.manual_seed(0)
        return {k: load_model(str(c), cfg_options=NO_WEIGHTS)[0] for k, c in
                (('plain', PLAIN), ('plugin', PLUGIN), ('inject', INJECT))}


def test_plugins_build_our_blocks_where_mmseg_puts_plugins(models):
    model = models['plugin']
    blocks = {n: m for n, m in model.named_modules() if isinstance(m, SNL)}
    assert list(blocks) == [f'backbone.layer3.{i}.snl' for i in range(6)]  # every bottleneck of res4
    for i, block in enumerate(blocks.values()):
        unit = model.backbone.layer3[i]
        assert unit.after_conv3_plugin_names == ['snl'] and not unit.after_conv1_plugin_names
        assert block.in_channels == unit.conv3.out_channels == 1024  # mmcv passed in_channels
        assert block.inter_channels == 512 and block.dim == 2 and isinstance(block.norm, torch.nn.SyncBatchNorm)
        assert float(block.norm.weight.detach().abs().max()) == 0.0  # the identity at the start
    # (other stages have none: the list above is all of them) and the plain config has none
    assert not any(isinstance(m, SNL) for m in models['plain'].modules())


def test_init_weights_keeps_the_identity_start():
    """mmseg's ResNet initialises BatchNorm weights to 1 over all its submodules (blocks' norms included); the
    blocks' own init_weights, which mmengine calls afterwards, puts them back to 0."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        model, _ = load_model(str(PLUGIN), cfg_options=NO_WEIGHTS)
        model.init_weights()
    norms = [m.norm.weight for m in model.modules() if isinstance(m, SNL)]
    assert len(norms) == 6 and all(float(w.detach().abs().max()) == 0.0 for w in norms)


@pytest.mark.parametrize('route', ['plugin', 'inject'])
def test_plain_checkpoint_loads_with_only_the_blocks_missing(models, route):
    """Either route keeps the host's parameter names: the plain model's state dict loads with only the blocks'
    keys missing, and with the blocks at their identity start the outputs are the plain model's."""
    plain, model = models['plain'], models[route]
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    marker = '.snl.' if route == 'plugin' else '.snl_before_5.'
    assert result.missing_keys and all(marker in k for k in result.missing_keys)
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'), plain(x, mode='tensor'))


def test_plugin_forward_backward_and_other_blocks():
    """A training step through the plugin blocks (gradients reach them once they are not the identity); gSNL by
    the same route, named by mmcv's abbreviation rule (``g_snl``)."""
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        backbone = MODELS.build(dict(
            type='ResNetV1c', depth=50, base_channels=16, stem_channels=16, strides=(1, 2, 1, 1),
            dilations=(1, 1, 2, 4), plugins=[dict(cfg=dict(type='gSNL', reduction=4, zero_init=False),
                                                  stages=(False, False, False, True), position='after_conv2')]))
    names = [n for n, m in backbone.named_modules() if isinstance(m, gSNL)]
    assert names == [f'layer4.{i}.g_snl' for i in range(3)]
    assert backbone.layer4[0].g_snl.in_channels == 128  # after conv2: the unit's width, not its output
    out = backbone(torch.randn(2, 3, 32, 32))
    sum(o.square().mean() for o in out).backward()
    assert backbone.layer4[0].g_snl.w3.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('block', sorted(BLOCKS))
def test_every_block_type_builds_as_a_plugin(block):
    """Every registered block type is a plugin: built with the in_channels mmcv passes, named by mmcv's rule."""
    from mmcv.cnn.bricks.plugin import infer_abbr
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        backbone = MODELS.build(dict(type='ResNetV1c', depth=50, base_channels=16, stem_channels=16,
                                     plugins=[dict(cfg=dict(type=block), stages=(False, False, True, False),
                                                   position='after_conv3')]))
    name = infer_abbr(BLOCKS[block])
    assert [n for n, m in backbone.named_modules() if type(m) is BLOCKS[block]] == [
        f'layer3.{i}.{name}' for i in range(6)]
    assert backbone.layer3[0].get_submodule(name).in_channels == 256
    assert backbone(torch.randn(2, 3, 64, 64))[2].shape == (2, 256, 4, 4)
