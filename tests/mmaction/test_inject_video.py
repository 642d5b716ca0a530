"""Injection into mmaction2's backbones: identity at load time, checkpoint compatibility, every ResNet-3D family,
and errors that say what exists."""
import pytest
import torch

from snl_plugins import insert_nonlocal


def _i3d(pretrained=None, **kw):
    return dict(type='ResNet3d', depth=50, pretrained=pretrained, pretrained2d=True, conv1_kernel=(5, 7, 7),
                conv1_stride_t=2, pool1_stride_t=2, inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
                zero_init_residual=False, **kw)


@pytest.mark.parametrize('block', ['SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL'])
def test_injected_i3d_equals_plain_i3d_after_inflating_a_2d_checkpoint(mmaction_scope, torchvision_r50, block):
    from mmaction.registry import MODELS
    path, _ = torchvision_r50
    plain = MODELS.build(_i3d(path))
    plain.init_weights()
    injected = MODELS.build(dict(type='InjectNonlocal', module=_i3d(path),
                                 blocks=[dict(type=block, at='layer3.-1', position='before')]))
    injected.init_weights()
    assert type(injected).__name__ == 'ResNet3d'
    assert torch.equal(injected.conv1.conv.weight, plain.conv1.conv.weight)  # inflated the same way
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        injected.eval(), plain.eval()  # mmaction2's train() returns None: no chaining
        torch.testing.assert_close(injected(x), plain(x), rtol=1e-5, atol=1e-5)
        injected.train(), plain.train()
        torch.testing.assert_close(injected(x), plain(x), rtol=1e-4, atol=1e-4)


def test_a_3d_checkpoint_of_plain_i3d_loads_with_only_the_blocks_missing(mmaction_scope, tmp_path):
    from mmaction.registry import MODELS
    from mmengine.runner.checkpoint import load_checkpoint
    plain = MODELS.build(_i3d())
    plain.init_weights()
    ckpt = tmp_path / 'i3d.pth'
    torch.save({'state_dict': plain.state_dict(), 'meta': {}}, ckpt)
    blocks = [dict(type='SNL', at=p, position='after') for p in ('layer2.1', 'layer2.3', 'layer3.1')]
    injected = MODELS.build(dict(type='InjectNonlocal', module=_i3d(), blocks=blocks))
    result = injected.load_state_dict(torch.load(ckpt)['state_dict'], strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and {k.split('.')[1] for k in result.missing_keys} == {
        'snl_after_1', 'snl_after_3'}
    # through mmengine's loader (the ResNet3d pretrained=<3D checkpoint>, pretrained2d=False path) as well
    injected2 = MODELS.build(dict(type='InjectNonlocal', module=dict(_i3d(), pretrained=str(ckpt), pretrained2d=False),
                                  blocks=blocks))
    injected2.init_weights()
    assert torch.equal(injected2.layer4[2].conv3.conv.weight, plain.layer4[2].conv3.conv.weight)
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        injected2.eval(), plain.eval()
        torch.testing.assert_close(injected2(x), plain(x), rtol=1e-5, atol=1e-5)
    load_checkpoint(injected, str(ckpt), strict=False)


HOSTS = {
    'ResNet3dSlowOnly': (dict(type='ResNet3dSlowOnly', depth=50, pretrained=None, lateral=False,
                              conv1_kernel=(1, 7, 7), conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1)),
                         'layer3.-1', (1, 3, 4, 32, 32)),
    'ResNet2Plus1d': (dict(type='ResNet2Plus1d', depth=34, pretrained=None, pretrained2d=False, norm_eval=False,
                           conv_cfg=dict(type='Conv2plus1d'), norm_cfg=dict(type='BN3d', requires_grad=True),
                           conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1, inflate=(1, 1, 1, 1),
                           spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2), zero_init_residual=False),
                      'layer3.-1', (1, 3, 8, 32, 32)),
    'ResNetTSM': (dict(type='ResNetTSM', depth=50, pretrained=None, num_segments=4), 'layer3.-1', (4, 3, 32, 32)),
    'ResNet3dCSN': (dict(type='ResNet3dCSN', depth=50, pretrained2d=False, pretrained=None, bottleneck_mode='ir',
                         norm_eval=False, zero_init_residual=False), 'layer3.-1', (1, 3, 8, 32, 32)),
    'ResNet3dSlowFast': (dict(type='ResNet3dSlowFast', pretrained=None, resample_rate=4, speed_ratio=4, channel_ratio=8,
                              slow_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=True,
                                                conv1_kernel=(1, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                                                inflate=(0, 0, 1, 1)),
                              fast_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=False,
                                                base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                                                pool1_stride_t=1)),
                         'slow_path.layer3.1', (1, 3, 8, 32, 32)),
}


@pytest.mark.parametrize('name', list(HOSTS))
def test_every_resnet3d_family_takes_a_block_that_starts_as_identity(mmaction_scope, name):
    from mmaction.registry import MODELS
    cfg, at, shape = HOSTS[name]
    torch.manual_seed(0)
    plain = MODELS.build(cfg)
    if name != 'ResNetTSM':  # ResNetTSM.init_weights needs a 2D checkpoint (pretrained=None fails upstream)
        plain.init_weights()
    host = MODELS.build(cfg)
    host.load_state_dict(plain.state_dict())
    extra = [dict(type='SNL', at='fast_path.layer3.-1')] if name == 'ResNet3dSlowFast' else []
    inserted = insert_nonlocal(host, [dict(type='SNL', at=at, position='before')] + extra)
    calls = []
    for blk in inserted.values():
        blk.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    x = torch.randn(*shape)
    host.eval(), plain.eval()
    with torch.no_grad():
        out, ref = host(x), plain(x)
    # ran, on B x C x T x H x W; ResNetTSM is a 2D network over N*T frames, so its block is a 2D (per-frame) one
    assert len(calls) == len(inserted) and all(len(c) == (4 if name == 'ResNetTSM' else 5) for c in calls)
    for o, r in zip(out if isinstance(out, tuple) else [out], ref if isinstance(ref, tuple) else [ref]):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5)


def test_bad_paths_say_what_exists(mmaction_scope):
    from mmaction.registry import MODELS
    with pytest.raises(ValueError, match=r'no submodule "layer5".*layer1, layer2, layer3, layer4'):
        MODELS.build(dict(type='InjectNonlocal', module=_i3d(), blocks=[dict(type='SNL', at='layer5.0')]))
    with pytest.raises(ValueError, match=r'index 6 .*layer3 has 6 submodules'):
        MODELS.build(dict(type='InjectNonlocal', module=_i3d(), blocks=[dict(type='SNL', at='layer3.6')]))
    cfg, _, _ = HOSTS['ResNet3dSlowFast']
    with pytest.raises(ValueError, match=r'no submodule "medium_path".*slow_path.*fast_path'):
        MODELS.build(dict(type='InjectNonlocal', module=cfg, blocks=[dict(type='SNL', at='medium_path.layer3.1')]))


def test_tsm_gets_a_spatio_temporal_block_through_segment_nonlocal(mmaction_scope):
    """ResNetTSM folds T into the batch; SegmentNonlocal runs the 3D block over each clip's segments."""
    from mmaction.registry import MODELS
    cfg = dict(type='ResNetTSM', depth=50, pretrained=None, num_segments=4)
    torch.manual_seed(0)
    plain = MODELS.build(cfg)
    host = MODELS.build(dict(type='InjectNonlocal', module=cfg, blocks=[dict(
        type='SegmentNonlocal', num_segments=4, block=dict(type='SNL'), at='layer3.-1')]))
    host.load_state_dict(plain.state_dict(), strict=False)
    seg = host.layer3.segmentnonlocal_before_5
    assert seg.block.dim == 3 and seg.block.in_channels == 1024
    seen = []
    seg.block.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    x = torch.randn(8, 3, 32, 32)  # 2 clips x 4 segments
    host.eval(), plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(host(x), plain(x), rtol=1e-5, atol=1e-5)
    assert seen == [(2, 1024, 4, 2, 2)]
    with torch.no_grad(), pytest.raises(ValueError, match='not a multiple of num_segments=4'):
        seg(torch.randn(6, 1024, 2, 2))
    # the mixing over segments is real: a change in one segment reaches the others once the block is non-zero
    torch.nn.init.ones_(seg.block.norm.weight)
    x2 = x.clone()
    x2[0] += 1
    with torch.no_grad():
        assert not torch.allclose(host(x)[1], host(x2)[1])
