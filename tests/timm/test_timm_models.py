"""The timm model names of snl_plugins: every registered name in one parametrised test (timm style), the paper's
variants (DP3, SP3 / SP5, Sub 4), timm's forward contracts (features_only, forward_intermediates), TorchScript, and
``pretrained=True`` from a local file of the base architecture."""
import pytest
import timm
import torch
from torch import nn

import snl_plugins  # noqa: F401  (registers the names in timm)
from snl_plugins.blocks import A2, CGNL, NL, NS, SNL, NonlocalBlock, NonlocalModule, NonlocalStage, gSNL




SUFFIXES = ('snl', 'gsnl', 'nl', 'ns', 'a2', 'cgnl')
BLOCK_CLASSES = {'snl': SNL, 'gsnl': gSNL, 'nl': NL, 'ns': NS, 'a2': A2, 'cgnl': CGNL}


def _ours(name: str) -> bool:
    return name.startswith('preresnet') or name.rsplit('_', 1)[-1] in SUFFIXES


OUR_MODELS = sorted(n for n in timm.list_models(module=['resnet', 'preresnet']) if _ours(n))


def _size(name: str) -> int:
    return 32 if name.startswith('preresnet') else 64


def _blocks(model: nn.Module):
    """(qualified name, module) of the top-level inserted blocks (stages, Sequentials of blocks, single blocks)."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, (NonlocalModule, nn.Sequential)) and any(
                name.rsplit('.', 1)[-1].startswith(f'{s}_') for s in SUFFIXES):
            out.append((name, m))
    return out


def _make_blocks_matter(model: nn.Module, value: float = 0.5) -> None:
    for m in model.modules():
        if isinstance(m, NonlocalBlock):
            nn.init.constant_(m.norm.weight, value)


def test_all_names_registered():
    expected = {f'preresnet{d}' for d in (20, 56)}
    expected |= {f'preresnet{d}_{s}' for d in (20, 56) for s in SUFFIXES}
    expected |= {f'resnet{d}_{s}' for d in (18, 34, 50, 101) for s in SUFFIXES}
    assert set(OUR_MODELS) == expected
    for name in OUR_MODELS:
        assert timm.is_model(name)
        assert name in timm.list_models(module='preresnet' if name.startswith('pre') else 'resnet')


@pytest.mark.parametrize('name', OUR_MODELS)
def test_model_forward_backward(name):
    """Builds, forward at small resolution, every parameter gets a gradient, classifier helpers, pretrained_cfg."""
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=10)
    assert model.pretrained_cfg['architecture'] == name
    size = _size(name)
    x = torch.randn(2, 3, size, size)
    out = model(x)
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
    out.mean().backward()
    # the blocks start with norm weight 0, so their inner convs get zero gradient in this first backward: check
    # presence, like timm's own test-suite
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f'no gradient for {no_grad[:5]}'

    suffix = name.rsplit('_', 1)[-1]
    found = _blocks(model)
    if suffix in SUFFIXES:
        assert len(found) == 1, found
        block_name, block = found[0]
        assert isinstance(block, BLOCK_CLASSES[suffix])
        if name.startswith('preresnet'):  # right after the second block of stage 1
            assert block_name == f'layer1.{suffix}_after_1'
            assert list(model.layer1._modules)[:3] == ['0', '1', f'{suffix}_after_1']
        else:  # right before the last block of layer3
            last = str(len(model.layer3) - 2)
            assert block_name == f'layer3.{suffix}_before_{last}'
            assert list(model.layer3._modules)[-2:] == [f'{suffix}_before_{last}', last]
        assert block.norm.weight.abs().sum() == 0  # the identity at init
    else:
        assert found == []

    feat = model.forward_features(x)
    assert feat.shape[:2] == (2, model.num_features)
    model.reset_classifier(0)
    assert model.get_classifier() is not None
    pooled = model(x)
    assert pooled.shape == (2, model.num_features)
    assert model.forward_head(feat, pre_logits=True).shape == (2, model.num_features)


def test_base_architecture_outputs_at_init():
    """The block starts as the identity: same host weights give the base model's outputs."""
    for name, base in (('preresnet20_gsnl', 'preresnet20'), ('resnet18_nl', 'resnet18')):
        torch.manual_seed(0)
        plain = timm.create_model(base, num_classes=10).eval()
        model = timm.create_model(name, num_classes=10).eval()
        missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
        assert unexpected == [] and missing and all('_after_' in k or '_before_' in k for k in missing)
        x = torch.randn(2, 3, _size(name), _size(name))
        with torch.no_grad():
            torch.testing.assert_close(model(x), plain(x))
            _make_blocks_matter(model)
            assert not torch.allclose(model(x), plain(x))


# ---- the paper's variants -------------------------------------------------------------------------------------

def test_dp3_three_blocks_in_three_stages():
    model = timm.create_model('preresnet20_snl', num_classes=10, nl_at=('layer1.1', 'layer2.1', 'layer3.1'))
    found = dict(_blocks(model))
    assert sorted(found) == ['layer1.snl_after_1', 'layer2.snl_after_1', 'layer3.snl_after_1']
    assert [found[k].in_channels for k in sorted(found)] == [16, 32, 64]
    model(torch.randn(2, 3, 32, 32)).sum().backward()

    model = timm.create_model('resnet18_gsnl', num_classes=10, nl_at=('layer1.1', 'layer2.1', 'layer3.1'),
                              nl_position='after')
    found = dict(_blocks(model))
    assert sorted(found) == ['layer1.gsnl_after_1', 'layer2.gsnl_after_1', 'layer3.gsnl_after_1']
    assert [found[k].in_channels for k in sorted(found)] == [64, 128, 256]
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.parametrize('suffix', SUFFIXES)
@pytest.mark.parametrize('units', [3, 5])
def test_sp_units(suffix, units):
    """SP3 / SP5: a NonlocalStage of that many units for the affinity blocks, that many blocks in a row else."""
    model = timm.create_model(f'preresnet20_{suffix}', num_classes=10, nl_units=units)
    found = _blocks(model)
    assert len(found) == 1
    _, block = found[0]
    if suffix in ('a2', 'cgnl'):
        assert isinstance(block, nn.Sequential) and len(block) == units
        assert all(type(b) is BLOCK_CLASSES[suffix] for b in block)
        assert len({id(b) for b in block}) == units
    else:
        assert isinstance(block, NonlocalStage)
        assert block.unit_type == BLOCK_CLASSES[suffix].__name__
        assert len(block.units) == units and all(type(u) is BLOCK_CLASSES[suffix] for u in block.units)
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize('suffix', SUFFIXES)
def test_sub4_reduction(suffix):
    # CGNL's groups (8 by default) must divide the 4 inter channels of a 16-channel CIFAR stage
    extra = dict(groups=4) if suffix == 'cgnl' else {}
    model = timm.create_model(f'preresnet20_{suffix}', num_classes=10, nl_cfg=dict(reduction=4, **extra))
    (_, block), = _blocks(model)
    assert block.in_channels == 16 and block.inter_channels == 4
    model = timm.create_model(f'resnet18_{suffix}', num_classes=10, nl_cfg=dict(reduction=4))
    (_, block), = _blocks(model)
    assert block.in_channels == 256 and block.inter_channels == 64
    default = timm.create_model(f'resnet18_{suffix}', num_classes=10)
    assert _blocks(default)[0][1].inter_channels == 128


def test_nl_position_and_cfg_reach_the_block():
    model = timm.create_model('resnet34_ns', num_classes=10, nl_at='layer2.-1', nl_position='after',
                              nl_cfg=dict(inter_channels=8))
    (name, block), = _blocks(model)
    assert name == 'layer2.ns_after_3' and block.in_channels == 128 and block.inter_channels == 8
    assert list(model.layer2._modules)[-1] == 'ns_after_3'


def test_nl_cfg_cannot_override_what_the_model_name_and_options_set():
    with pytest.raises(ValueError, match=r"type='NL' is set by the model name \(this model inserts SNL\)"):
        timm.create_model('resnet18_snl', nl_cfg=dict(type='NL'))
    with pytest.raises(ValueError, match="at='layer2' is set by nl_at; num_blocks=2 is set by nl_units"):
        timm.create_model('resnet18_snl', nl_cfg=dict(at='layer2', num_blocks=2))
    model = timm.create_model('resnet18_snl', nl_cfg=dict(type='SNL', reduction=4))  # agreeing: harmless
    assert _blocks(model)[0][1].inter_channels == 64


# ---- timm's forward contracts ---------------------------------------------------------------------------------

@pytest.mark.parametrize('name,base,changed_from', [('resnet50_snl', 'resnet50', 3),
                                                    ('preresnet20_snl', 'preresnet20', 0)])
def test_features_only_and_intermediates(name, base, changed_from):
    """features_only (list and getter) and forward_intermediates run the block: with a non-zero block norm the
    features from its stage on differ from the base model's, the ones before it do not."""
    torch.manual_seed(0)
    size = _size(name)
    x = torch.randn(1, 3, size, size)
    plain = timm.create_model(base).eval()
    for kwargs in (dict(features_only=True), dict(features_only=True, feature_cls='getter')):
        feats_model = timm.create_model(name, **kwargs).eval()
        feats_plain = timm.create_model(base, **kwargs).eval()
        feats_model.load_state_dict(feats_plain.state_dict(), strict=False)
        names = [n for n, _ in feats_model.named_modules() if n.rsplit('.', 1)[-1].startswith('snl_')]
        assert names == [('model.' if 'feature_cls' in kwargs else '')
                         + ('layer3.snl_before_5' if base == 'resnet50' else 'layer1.snl_after_1')]
        with torch.no_grad():
            ref = feats_plain(x)
            for a, b in zip(feats_model(x), ref):
                torch.testing.assert_close(a, b)
            _make_blocks_matter(feats_model)
            feats = feats_model(x)
        assert [f.shape for f in feats] == [f.shape for f in ref]
        assert [f.shape[1] for f in feats] == feats_plain.feature_info.channels()
        for i, (a, b) in enumerate(zip(feats, ref)):
            assert torch.allclose(a, b) == (i < changed_from), i

    model = timm.create_model(name).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    _make_blocks_matter(model)
    with torch.no_grad():
        final, inter = model.forward_intermediates(x)
        final_ref, inter_ref = plain.forward_intermediates(x)
        assert [t.shape for t in inter] == [t.shape for t in inter_ref]
        for i, (a, b) in enumerate(zip(inter, inter_ref)):
            assert torch.allclose(a, b) == (i < changed_from), i
        torch.testing.assert_close(model.forward_head(final), model(x))
        only = model.forward_intermediates(x, indices=[changed_from], intermediates_only=True)
        assert len(only) == 1
        torch.testing.assert_close(only[0], inter[changed_from])


@pytest.mark.parametrize('name', ['preresnet20_snl', 'resnet18_snl'])
def test_torchscript_matches_eager(name):
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=10).eval()
    _make_blocks_matter(model)
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        torch.testing.assert_close(scripted(x), ref)
        plain = timm.create_model(name.split('_')[0], num_classes=10).eval()
        plain.load_state_dict(model.state_dict(), strict=False)
        assert not torch.allclose(plain(x), ref)  # the block is part of the scripted graph


def test_torch_compile_eager_backend():
    torch.manual_seed(0)
    model = timm.create_model('preresnet20_snl', num_classes=10).eval()
    _make_blocks_matter(model)
    compiled = torch.compile(model, backend='eager')
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


# ---- pretrained=True from a local file ------------------------------------------------------------------------

@pytest.mark.parametrize('base,name', [('resnet18', 'resnet18_snl'), ('preresnet20', 'preresnet20_snl')])
def test_pretrained_from_local_file(tmp_path, base, name):
    torch.manual_seed(0)
    plain = timm.create_model(base).eval()
    path = tmp_path / f'{base}.pth'
    torch.save(plain.state_dict(), path)
    torch.manual_seed(1)  # different init: equality below means the file was loaded
    model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    assert model.pretrained_cfg['architecture'] == name
    assert model.pretrained_cfg['file'] == str(path)
    state = model.state_dict()
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(state[k], v)
    size = _size(name)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x))
    # the blocks themselves are fresh (identity) and trainable
    (_, block), = _blocks(model)
    assert block.norm.weight.abs().sum() == 0


@pytest.mark.parametrize('feature_cls', [None, 'getter'])
def test_features_only_out_indices_before_the_block(feature_cls):
    """out_indices that stop before the block's stage: timm cuts the stage away, and the block with it; blocks in
    stages that are kept still go in; a wrong path is still an error."""
    kwargs = dict(features_only=True, out_indices=(1, 2))
    if feature_cls:
        kwargs['feature_cls'] = feature_cls
    x = torch.randn(1, 3, 64, 64)
    model = timm.create_model('resnet50_snl', **kwargs)
    assert [f.shape[1] for f in model(x)] == [256, 512]
    assert not [n for n, _ in model.named_modules() if 'snl_' in n]
    model = timm.create_model('resnet50_snl', nl_at=('layer2.-1', 'layer3.-1'), **kwargs)
    prefix = 'model.' if feature_cls else ''
    assert [n for n, _ in model.named_modules() if n.rsplit('.', 1)[-1].startswith('snl_')] == [
        f'{prefix}layer2.snl_before_3']
    assert [f.shape[1] for f in model(x)] == [256, 512]
    with pytest.raises(ValueError, match='no submodule "layer9"'):
        timm.create_model('resnet50_snl', nl_at='layer9.0', **kwargs)
    model = timm.create_model('preresnet20_snl', features_only=True, out_indices=(0,), **(
        dict(feature_cls=feature_cls) if feature_cls else {}))
    assert [n for n, _ in model.named_modules() if 'snl_' in n][:1] == [f'{prefix}layer1.snl_after_1']


def test_pretrained_tag_in_the_name():
    model = timm.create_model('resnet18_snl.a1_in1k', num_classes=3)
    assert model.pretrained_cfg['architecture'] == 'resnet18_snl' and model.pretrained_cfg['tag'] == 'a1_in1k'
    assert model.pretrained_cfg['hf_hub_id'] == timm.models.get_pretrained_cfg('resnet18').hf_hub_id
