"""ResNetP3D's ``block_style='caffe'`` (the authors' released network), the converter of the public P3D port's
weights (on a synthetic state dict in the port's key layout), and the Table 8 / Table 14 configs added for issue 16
(Hara et al.'s 3D ResNet rows, the Kinetics-400 P3D pre-training): they build and train one step on a tiny clip."""
import runpy
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from snl_plugins.mmaction import P3DBottleneck, ResNetP3D
from snl_plugins.mmaction.p3d import convert_p3d_checkpoint, p3d199_to_mmaction

ROOT = Path(__file__).resolve().parents[2]
CFG_DIR = ROOT / 'configs' / 'recognition'


def port_state_dict(blocks=(3, 4, 6, 3), in_channels=3, num_classes=400):
    """A state dict in the key layout and shapes of qijiezhao/pseudo-3d-pytorch's ``P3D`` (``P3D63`` for
    (3, 4, 6, 3), ``P3D199`` for (3, 8, 36, 3)), written from that code's naming rules, random values, BN without
    ``num_batches_tracked`` (the port predates it), saved from ``nn.DataParallel``."""
    g = torch.Generator().manual_seed(0)
    sd = OrderedDict()

    def conv(name, *shape):  # scaled so that 50-odd layers keep finite activations
        fan_in = torch.tensor(shape[1:]).prod()
        sd[f'{name}.weight'] = torch.randn(*shape, generator=g) / fan_in.sqrt()

    def bn(name, c):
        sd[f'{name}.weight'] = torch.rand(c, generator=g) * 0.5 + 0.25
        sd[f'{name}.bias'] = torch.randn(c, generator=g) * 0.1
        sd[f'{name}.running_mean'] = torch.randn(c, generator=g) * 0.1
        sd[f'{name}.running_var'] = torch.rand(c, generator=g) + 0.5

    conv('conv1_custom', 64, in_channels, 1, 7, 7)
    bn('bn1', 64)
    inplanes = 64
    for i, n in enumerate(blocks):
        planes, two_d = 64 * 2 ** i, i == 3
        k1 = (1, 1) if two_d else (1, 1, 1)
        for j in range(n):
            p = f'layer{i + 1}.{j}'
            conv(f'{p}.conv1', planes, inplanes, *k1)
            bn(f'{p}.bn1', planes)
            if two_d:
                conv(f'{p}.conv_normal', planes, planes, 3, 3)
                bn(f'{p}.bn_normal', planes)
            else:
                conv(f'{p}.conv2', planes, planes, 1, 3, 3)  # S
                bn(f'{p}.bn2', planes)
                conv(f'{p}.conv3', planes, planes, 3, 1, 1)  # T
                bn(f'{p}.bn3', planes)
            conv(f'{p}.conv4', planes * 4, planes, *k1)
            bn(f'{p}.bn4', planes * 4)
            if j == 0:
                conv(f'{p}.downsample.0', planes * 4, inplanes, *k1)
                bn(f'{p}.downsample.1', planes * 4)
            inplanes = planes * 4
    sd['fc.weight'] = torch.randn(num_classes, 2048, generator=g)
    sd['fc.bias'] = torch.randn(num_classes, generator=g)
    return OrderedDict(('module.' + k, v) for k, v in sd.items())


def test_caffe_style_blocks_compute_the_released_network():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 4, 6, 6)
    for p3d_type in ('A', 'B', 'C'):
        blk = P3DBottleneck(8, 8, stride=2, p3d_type=p3d_type, block_style='caffe',
                            downsample=torch.nn.Conv3d(8, 32, 1, stride=(1, 2, 2))).eval()
        assert blk.conv1.stride == (1, 2, 2) and blk.conv2_s.stride == (1, 1, 1) and blk.conv2_t.stride == (1, 1, 1)
        r = torch.relu
        with torch.no_grad():
            h = r(blk.bn1(blk.conv1(x)))
            s = blk.bn2_s(blk.conv2_s(h))
            if p3d_type == 'A':
                mid = r(blk.bn2_t(blk.conv2_t(r(s))))
            elif p3d_type == 'B':  # the prototxt: ReLU on S in place, then S + T, then ReLU
                mid = r(r(s) + blk.bn2_t(blk.conv2_t(h)))
            else:  # T reads the ReLU'd S; Eltwise SUM with coeff 0.5, 0.5; ReLU
                mid = r(0.5 * r(s) + 0.5 * blk.bn2_t(blk.conv2_t(r(s))))
            expected = r(blk.bn3(blk.conv3(mid)) + blk.downsample(x))
            assert torch.allclose(blk(x), expected, atol=1e-6)
    model = ResNetP3D(depth=50, block_style='caffe')
    assert model.layer2[0].conv1.stride == (1, 2, 2) and model.layer2[0].conv2_s.stride == (1, 1, 1)
    assert model.layer4[0].conv1.stride == (1, 2, 2) and model.layer4[0].conv2.stride == (1, 1, 1)
    assert ResNetP3D(depth=50).layer2[0].conv2_s.stride == (1, 2, 2)  # the default is unchanged
    with pytest.raises(ValueError, match="block_style must be one of \\('paper', 'caffe'\\), got 'tf'"):
        ResNetP3D(block_style='tf')


def test_public_port_weights_convert_and_load(tmp_path, mmaction_scope):
    from mmaction.registry import MODELS
    port = port_state_dict()
    src = tmp_path / 'p3d_rgb_63.checkpoint.pth.tar'
    torch.save({'epoch': 3, 'arch': 'P3D63', 'state_dict': port}, src)
    convert = runpy.run_path(str(ROOT / 'tools' / 'convert' / 'p3d_to_mmaction.py'))['main']  # the command line
    convert([str(src), str(tmp_path / 'p3d.pth')])
    converted = torch.load(tmp_path / 'p3d.pth', weights_only=True)
    assert converted['meta'] == dict(depth=50, in_channels=3, block_style='caffe',
                                     converted_from='qijiezhao/pseudo-3d-pytorch')
    sd = converted['state_dict']
    model = MODELS.build(dict(type='Recognizer3D',
                              backbone=dict(type='ResNetP3D', depth=50, block_style='caffe'),
                              cls_head=dict(type='I3DHead', num_classes=400, in_channels=2048),
                              data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW')))
    model.load_state_dict(sd, strict=True)  # every tensor has its place (BN fills in num_batches_tracked)
    ours = model.state_dict()
    w = lambda k: port['module.' + k]  # noqa: E731
    assert torch.equal(ours['backbone.conv1.weight'], w('conv1_custom.weight'))
    assert torch.equal(ours['backbone.layer1.1.conv2_s.weight'], w('layer1.1.conv2.weight'))  # S
    assert torch.equal(ours['backbone.layer1.1.conv2_t.weight'], w('layer1.1.conv3.weight'))  # T
    assert torch.equal(ours['backbone.layer3.5.conv3.weight'], w('layer3.5.conv4.weight'))  # expansion
    assert torch.equal(ours['backbone.layer2.0.bn2_t.running_var'], w('layer2.0.bn3.running_var'))
    assert torch.equal(ours['backbone.layer4.0.conv2.weight'][:, :, 0], w('layer4.0.conv_normal.weight'))  # 2D
    assert torch.equal(ours['backbone.layer4.0.downsample.0.weight'][:, :, 0], w('layer4.0.downsample.0.weight'))
    assert torch.equal(ours['cls_head.fc_cls.bias'], w('fc.bias'))
    assert len(sd) == len(port)
    with torch.no_grad():  # 16 frames: the stem's and res2-res4's temporal pools leave 1 for res5, as in the port
        out = model.eval().backbone(torch.randn(1, 3, 16, 32, 32))
    assert out.shape == (1, 2048, 1, 1, 1) and torch.isfinite(out).all()
    # P3D-199's depth is read from res4's 36 blocks; a flow model from its 2 input channels
    meta = convert_p3d_checkpoint(port_state_dict((3, 8, 36, 3), in_channels=2))['meta']
    assert meta['depth'] == 152 and meta['in_channels'] == 2


def test_converter_refuses_other_layouts():
    with pytest.raises(ValueError, match='not a checkpoint of the public P3D port .*no conv1_custom.weight'):
        convert_p3d_checkpoint({'state_dict': {'conv1.weight': torch.zeros(1)}})
    with pytest.raises(ValueError, match=r"'layer1.0.conv5.weight': a P3D block of the public P3D port has no "
                                       r'"conv5"'):
        p3d199_to_mmaction({'layer1.0.conv5.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match="'head.weight' is not a parameter of the public P3D port"):
        p3d199_to_mmaction({'head.weight': torch.zeros(1)})
    bad = port_state_dict((3, 4, 5, 3))
    with pytest.raises(ValueError, match=r'5 blocks in res4; ResNetP3D has \[6, 23, 36\]'):
        convert_p3d_checkpoint(bad)


NEW_CONFIGS = ['p3d/p3d_r50_8xb8-16x2x1-100e_kinetics400-rgb.py', 'r3d/r3d_r50_8xb8-16x1x1-100e_kinetics400-rgb.py']
NEW_CONFIGS += [f'r3d/r3d_r50{b}_8xb8-16x1x1-100e_ucf101-split1-rgb.py'
                for b in ('', '-nl', '-ns', '-a2', '-cgnl', '-snl', '-gsnl')]


def test_hara_configs_follow_the_i3d_rows(mmaction_scope):
    """Each r3d row is its I3D row (same block, place, data, schedule) on Hara et al.'s 3D ResNet."""
    for b in ('', '-nl', '-ns', '-a2', '-cgnl', '-snl', '-gsnl'):
        r3d = Config.fromfile(str(CFG_DIR / 'r3d' / f'r3d_r50{b}_8xb8-16x1x1-100e_ucf101-split1-rgb.py'))
        i3d = Config.fromfile(str(CFG_DIR / 'i3d' / f'i3d_r50{b}_8xb8-32x2x1-100e_ucf101-split1-rgb.py'))
        assert r3d.model.backbone.get('blocks') == i3d.model.backbone.get('blocks')
        assert r3d.optim_wrapper == i3d.optim_wrapper and r3d.param_scheduler == i3d.param_scheduler
        assert r3d.train_dataloader.dataset.ann_file == i3d.train_dataloader.dataset.ann_file
        assert r3d.load_from == 'checkpoints/r3d_r50_kinetics400.pth'
        host = r3d.model.backbone.get('module', r3d.model.backbone)
        assert (host.type, host.conv1_kernel, host.inflate, host.inflate_style) == ('ResNet3d', (7, 7, 7),
                                                                                     (1, 1, 1, 1), '3x3x3')
        assert host.temporal_strides == (1, 2, 2, 2) and not host.with_pool2 and host.pretrained is None
        clip = r3d.train_dataloader.dataset.pipeline[1]
        assert (clip.clip_len, clip.frame_interval) == (16, 1)
    k400 = Config.fromfile(str(CFG_DIR / 'p3d' / 'p3d_r50_8xb8-16x2x1-100e_kinetics400-rgb.py'))
    assert k400.model.backbone == dict(type='ResNetP3D', depth=50, pretrained=k400.imagenet_resnet50,
                                       pretrained2d=True)
    i3d_k400 = Config.fromfile(str(CFG_DIR / 'i3d' / 'i3d_r50_8xb8-32x2x1-100e_kinetics400-rgb.py'))
    assert k400.optim_wrapper == i3d_k400.optim_wrapper and k400.train_cfg == i3d_k400.train_cfg
    # the UCF-101 P3D rows load what this config trains, under the name the README gives
    ucf = Config.fromfile(str(CFG_DIR / 'p3d' / 'p3d_r50_8xb8-16x2x1-100e_ucf101-split1-rgb.py'))
    assert ucf.load_from == k400.kinetics400_p3d_r50
    assert ucf.train_dataloader.dataset.pipeline == k400.train_dataloader.dataset.pipeline


@pytest.mark.parametrize('name', NEW_CONFIGS, ids=[n.split('/')[1] for n in NEW_CONFIGS])
def test_new_configs_build_and_train_a_step_on_a_tiny_clip(name, mmaction_scope):
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    cfg = Config.fromfile(str(CFG_DIR / name))
    backbone = cfg.model.backbone
    (backbone.get('module', backbone)).pretrained = None  # structure only: no weight files here
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    classes = cfg.model.cls_head.num_classes
    frames = 16 if 'p3d' in name else 8  # P3D halves T four times
    inputs = [torch.randint(0, 255, (1, 3, frames, 32, 32), dtype=torch.uint8) for _ in range(2)]
    samples = [ActionDataSample().set_gt_label(i % classes) for i in range(2)]
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    losses['loss_cls'].backward()
    assert torch.isfinite(losses['loss_cls'])
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    blocks = [m for m in model.backbone.modules() if type(m).__name__ in ('SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL')]
    assert len(blocks) == (1 if '-' in name.split('/')[1].split('_')[1] else 0)
