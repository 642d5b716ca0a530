"""ResNetP3D: the block cycle, 2D -> P3D initialisation from a local torchvision ResNet-50, the mmaction2 path."""
import pytest
import torch

from snl_plugins.mmaction import P3DBottleneck, ResNetP3D


def _types(model):
    return [b.p3d_type for name in model.res_layers for b in getattr(model, name)]


@pytest.mark.parametrize('depth,blocks', [(50, (3, 4, 6, 3)), (101, (3, 4, 23, 3)), (152, (3, 8, 36, 3))])
def test_blocks_cycle_a_b_c_over_res2_to_res4_and_res5_is_2d(depth, blocks):
    model = ResNetP3D(depth=depth)
    types = _types(model)
    n3 = sum(blocks[:3])
    assert types[:n3] == [('A', 'B', 'C')[i % 3] for i in range(n3)]  # one counter across res2..res4
    assert types[n3:] == ['2D'] * blocks[3]
    assert [len(getattr(model, f'layer{i}')) for i in range(1, 5)] == list(blocks)
    b = model.layer1[0]
    assert b.conv2_s.kernel_size == (1, 3, 3) and b.conv2_t.kernel_size == (3, 1, 1)
    assert model.layer4[0].conv2.kernel_size == (1, 3, 3)


def test_bad_arguments_fail_clearly():
    with pytest.raises(KeyError, match=r'invalid depth 34 .*\[50, 101, 152\]'):
        ResNetP3D(depth=34)
    with pytest.raises(ValueError, match='temporal_init'):
        ResNetP3D(temporal_init='zeros')
    model = ResNetP3D(depth=50)
    model.init_weights()
    with pytest.raises(ValueError, match='too few for its temporal pool'):
        model(torch.zeros(1, 3, 4, 32, 32))


def test_init_from_2d_copies_spatial_kernels_stem_1x1_convs_and_norms(torchvision_r50):
    path, r2d = torchvision_r50
    sd = r2d.state_dict()
    model = ResNetP3D(depth=50, pretrained=path, pretrained2d=True)
    model.init_weights()
    p = dict(model.named_parameters())
    p.update(dict(model.named_buffers()))
    assert torch.equal(p['conv1.weight'][:, :, 0], sd['conv1.weight'])
    assert torch.equal(p['bn1.running_var'], sd['bn1.running_var'])
    for blk in ('layer1.0', 'layer2.1', 'layer3.5'):  # A, C, ... blocks of res2-res4
        assert torch.equal(p[f'{blk}.conv2_s.weight'][:, :, 0], sd[f'{blk}.conv2.weight'])
        assert torch.equal(p[f'{blk}.bn2_s.weight'], sd[f'{blk}.bn2.weight'])
        assert torch.equal(p[f'{blk}.conv1.weight'][:, :, 0, 0, 0], sd[f'{blk}.conv1.weight'][:, :, 0, 0])
        assert torch.equal(p[f'{blk}.conv3.weight'][:, :, 0], sd[f'{blk}.conv3.weight'])
        assert torch.equal(p[f'{blk}.bn3.running_mean'], sd[f'{blk}.bn3.running_mean'])
    assert torch.equal(p['layer4.2.conv2.weight'][:, :, 0], sd['layer4.2.conv2.weight'])
    assert torch.equal(p['layer3.0.downsample.0.weight'][:, :, 0], sd['layer3.0.downsample.0.weight'])
    assert torch.equal(p['layer3.0.downsample.1.bias'], sd['layer3.0.downsample.1.bias'])
    # temporal convs start as the identity over time (centre tap), B / C temporal branches at zero
    t = model.layer1[0].conv2_t.weight
    assert torch.equal(t[:, :, 1, 0, 0], torch.eye(t.shape[0])) and t[:, :, [0, 2]].abs().sum() == 0
    assert model.layer1[1].p3d_type == 'B' and model.layer1[1].bn2_t.weight.abs().sum() == 0
    assert model.layer1[0].p3d_type == 'A' and torch.all(model.layer1[0].bn2_t.weight == 1)


def test_inflated_p3d_computes_the_2d_network_frame_by_frame(torchvision_r50):
    """Without temporal pooling, right after 2D initialisation (eval mode) every frame goes through the 2D ResNet."""
    path, r2d = torchvision_r50
    model = ResNetP3D(depth=50, pretrained=path, pretrained2d=True, pool1_kernel=(1, 3, 3), pool1_stride=(1, 2, 2),
                      temporal_pool_stages=())
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 2, 64, 64)
    features = torch.nn.Sequential(*list(r2d.children())[:-2])
    with torch.no_grad():
        y = model(x)
        ref = torch.stack([features(x[:, :, t]) for t in range(x.shape[2])], 2)
    # P3D-A's temporal norm is the identity up to its eps (1 / sqrt(1 + 1e-5)) on fresh statistics
    torch.testing.assert_close(y, ref, rtol=1e-3, atol=1e-3 * ref.abs().max().item())


def test_kaiming_temporal_init_and_scratch_init():
    model = ResNetP3D(depth=50, temporal_init='kaiming')
    model.init_weights()
    t = model.layer1[0].conv2_t.weight
    assert t[:, :, 0].abs().sum() > 0
    assert all(torch.all(m.bn2_t.weight == 1) for m in model.modules() if isinstance(m, P3DBottleneck))


def test_p3d_with_snl_in_recognizer3d(mmaction_scope, tmp_path):
    """ResNetP3D from mmaction2's MODELS, SNL before the last block of res3 (InjectNonlocal), Recognizer3D + I3DHead,
    and a P3D checkpoint loads into the injected model with only the block missing."""
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    backbone = dict(type='ResNetP3D', depth=50, temporal_pool_stages=(0, 1))
    cfg = dict(type='Recognizer3D',
               backbone=dict(type='InjectNonlocal', module=backbone,
                             blocks=[dict(type='SNL', at='layer2.-1', position='before')]),
               cls_head=dict(type='I3DHead', num_classes=3, in_channels=2048, average_clips='prob'),
               data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW'))
    model = MODELS.build(cfg)
    model.init_weights()
    assert type(model.backbone).__name__ == 'ResNetP3D'
    snl = model.backbone.layer2.snl_before_3
    assert snl.in_channels == 512 and snl.dim == 3 and torch.all(snl.norm.weight == 0)
    inputs = [torch.randint(0, 255, (1, 3, 8, 32, 32), dtype=torch.uint8) for _ in range(2)]
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    losses['loss_cls'].backward()
    assert torch.isfinite(losses['loss_cls']) and snl.norm.weight.grad.abs().sum() > 0
    plain = MODELS.build(dict(cfg, backbone=backbone))
    ckpt = tmp_path / 'p3d.pth'
    torch.save({'state_dict': plain.state_dict()}, ckpt)
    result = model.load_state_dict(torch.load(ckpt)['state_dict'], strict=False)
    missing = result.missing_keys
    assert missing and all(k.startswith('backbone.layer2.snl_before_3.') for k in missing)
    assert not result.unexpected_keys
