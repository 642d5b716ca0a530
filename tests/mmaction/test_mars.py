"""MARS: the ResNeXt3D architecture against the published spec (parameter count, the authors' key layout, a functional
re-computation of the forward), the checkpoint key mapping, the loss (CE + alpha * MSE by hand), the frozen teacher,
RGB and flow sharing crop and flip on real rawframe files, and the configs."""
import random
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from fixtures.rawframes import write_rawframes
from snl_plugins.mmaction.mars import convert_mars_checkpoint, mars_to_mmaction, mmaction_to_mars
from snl_plugins.mmaction.resnext3d import ResNeXt3d

ROOT = Path(__file__).resolve().parents[2]
MARS_DIR = ROOT / 'configs' / 'recognition' / 'mars'
TINY = dict(depth=50, stage_blocks=(1, 2, 1, 1))  # every kind of block (first with shortcut conv, plain) at low cost


# ------------------------------------------------------------------------------------- the published architecture
def spec_layout(blocks, in_channels=3, num_classes=400, cardinality=32):
    """{authors' key: shape} re-created from the published spec (Hara et al.'s 3D ResNeXt as MARS instantiates it
    in nn.DataParallel): stem 7x7x7 conv to 64; stage i has `planes` 128 * 2^i, a grouped conv of width
    cardinality * planes / 32 and output 2 * planes; the first block of each stage has a 1x1x1 conv + BN shortcut."""
    layout = {}

    def bn(name, c):
        layout.update({f'{name}.weight': (c,), f'{name}.bias': (c,), f'{name}.running_mean': (c,),
                       f'{name}.running_var': (c,), f'{name}.num_batches_tracked': ()})

    layout['conv1.weight'] = (64, in_channels, 7, 7, 7)
    bn('bn1', 64)
    inplanes = 64
    for i, n in enumerate(blocks):
        planes = 128 * 2 ** i
        mid, out = cardinality * planes // 32, 2 * planes
        for j in range(n):
            p = f'layer{i + 1}.{j}'
            layout[f'{p}.conv1.weight'] = (mid, inplanes if j == 0 else out, 1, 1, 1)
            bn(f'{p}.bn1', mid)
            layout[f'{p}.conv2.weight'] = (mid, mid // cardinality, 3, 3, 3)
            bn(f'{p}.bn2', mid)
            layout[f'{p}.conv3.weight'] = (out, mid, 1, 1, 1)
            bn(f'{p}.bn3', out)
            if j == 0:
                layout[f'{p}.downsample.0.weight'] = (out, inplanes, 1, 1, 1)
                bn(f'{p}.downsample.1', out)
        inplanes = out
    layout['fc.weight'], layout['fc.bias'] = (num_classes, inplanes), (num_classes,)
    return {'module.' + k: v for k, v in layout.items()}


def authors_state_dict(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.tensor(7) if k.endswith('num_batches_tracked') else
                torch.rand(shape, generator=g) + 0.5 if 'running_var' in k else torch.randn(shape, generator=g))
            for k, shape in layout.items()}


def count(layout):
    return sum(int(np.prod(s)) for k, s in layout.items() if not k.endswith(('running_mean', 'running_var',
                                                                                'num_batches_tracked')))


def test_resnext3d_101_parameter_count_is_the_published_architectures():
    backbone = ResNeXt3d(depth=101)
    n = sum(p.numel() for p in backbone.parameters())
    layout = spec_layout((3, 4, 23, 3))
    assert n == count(layout) - (400 * 2048 + 400) == 47_521_216  # 48.34 M with a 400-class fc
    assert sum(p.numel() for p in ResNeXt3d(depth=101, in_channels=2).parameters()) == n - 64 * 7 ** 3


@pytest.mark.parametrize('depth,blocks', [(50, (3, 4, 6, 3)), (101, (3, 4, 23, 3)), (152, (3, 8, 36, 3))])
def test_state_dict_is_the_authors_layout_in_their_order(depth, blocks):
    with torch.device('meta'):
        sd = ResNeXt3d(depth=depth).state_dict()
    layout = {k[len('module.'):]: v for k, v in spec_layout(blocks).items() if not k.startswith('module.fc.')}
    assert list(sd) == list(layout)
    assert all(tuple(sd[k].shape) == v for k, v in layout.items())


def test_forward_matches_a_functional_recomputation_of_the_spec():
    blocks = TINY['stage_blocks']
    sd = authors_state_dict(spec_layout(blocks, num_classes=5))
    w = {k[len('module.'):]: v for k, v in sd.items()}
    model = ResNeXt3d(**TINY)
    model.load_state_dict({k: v for k, v in w.items() if not k.startswith('fc.')})
    model.eval()

    def bn(x, p):
        return F.batch_norm(x, w[f'{p}.running_mean'], w[f'{p}.running_var'], w[f'{p}.weight'], w[f'{p}.bias'],
                            False, 0.0, 1e-5)

    def reference(x):
        x = F.relu(bn(F.conv3d(x, w['conv1.weight'], stride=(1, 2, 2), padding=3), 'bn1'))
        x = F.max_pool3d(x, 3, 2, 1)
        for i, n in enumerate(blocks):
            for j in range(n):
                p, stride = f'layer{i + 1}.{j}', 2 if i > 0 and j == 0 else 1
                out = F.relu(bn(F.conv3d(x, w[f'{p}.conv1.weight']), f'{p}.bn1'))
                out = F.relu(bn(F.conv3d(out, w[f'{p}.conv2.weight'], stride=stride, padding=1, groups=32), f'{p}.bn2'))
                out = bn(F.conv3d(out, w[f'{p}.conv3.weight']), f'{p}.bn3')
                short = bn(F.conv3d(x, w[f'{p}.downsample.0.weight'], stride=stride), f'{p}.downsample.1') \
                    if j == 0 else x
                x = F.relu(out + short)
        return x

    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        y, ref = model(x), reference(x)
    assert y.shape == (2, 2048, 1, 1, 1)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
    assert ResNeXt3d(**TINY)(torch.randn(1, 3, 16, 112, 112)).shape == (1, 2048, 1, 4, 4)  # T/16, H/32, W/32


def test_bad_arguments_and_inputs_fail_clearly():
    with pytest.raises(KeyError, match=r'invalid depth 34 .*\[50, 101, 152\]'):
        ResNeXt3d(depth=34)
    with pytest.raises(ValueError, match='stage_blocks'):
        ResNeXt3d(stage_blocks=(1, 1, 1))
    flow_net = ResNeXt3d(in_channels=2, **TINY)
    with pytest.raises(ValueError, match=r'in_channels=2\) takes optical flow .* got a tensor of shape \(1, 3, 8'):
        flow_net(torch.zeros(1, 3, 8, 32, 32))


def test_frozen_stages_keep_injected_blocks_trainable_and_norm_eval():
    from snl_plugins.inject import inject_nonlocal
    model = inject_nonlocal(ResNeXt3d(frozen_stages=3, **TINY),
                            [dict(type='SNL', at='layer2.-1', position='before', reduction=2)])
    model.train()
    frozen = [model.conv1, model.bn1, model.layer1[0], model.layer2[0], model.layer2[2], model.layer3[0]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for f in frozen for m in f.modules())
    snl = model.layer2.snl_before_1
    assert snl.training and all(p.requires_grad for p in snl.parameters())
    assert model.layer4.training and all(p.requires_grad for p in model.layer4.parameters())
    frozen_at_build = ResNeXt3d(frozen_stages=0, **TINY)  # before any train() call: optimizers collect params early
    assert not frozen_at_build.conv1.weight.requires_grad and frozen_at_build.layer1[0].conv1.weight.requires_grad
    normed = ResNeXt3d(norm_eval=True, **TINY).train()
    assert all(not m.training for m in normed.modules() if isinstance(m, torch.nn.BatchNorm3d))


# ------------------------------------------------------------------------------------------ checkpoint mapping
def recognizer_cfg(in_channels, mean, std, num_classes=3):
    return dict(type='Recognizer3D', backbone=dict(type='ResNeXt3d', in_channels=in_channels, **TINY),
                cls_head=dict(type='I3DHead', in_channels=2048, num_classes=num_classes, dropout_ratio=0.0,
                              average_clips='score'),
                data_preprocessor=dict(type='ActionDataPreprocessor', mean=mean, std=std, format_shape='NCTHW'))


def test_authors_checkpoint_converts_loads_strictly_and_round_trips(tmp_path, mmaction_scope):
    from mmaction.registry import MODELS
    authors = authors_state_dict(spec_layout(TINY['stage_blocks'], in_channels=2, num_classes=3))
    path = tmp_path / 'Flow_UCF101_16f.pth'
    torch.save({'epoch': 31, 'arch': 'resnext-101', 'state_dict': authors, 'optimizer': {}}, path)
    convert = runpy.run_path(str(ROOT / 'tools' / 'convert' / 'mars_to_mmaction.py'))['main']  # the command line
    convert([str(path), str(tmp_path / 'flow.pth')])
    converted = torch.load(tmp_path / 'flow.pth', weights_only=True)
    assert converted['meta'] == {'arch': 'resnext-101', 'epoch': 31, 'converted_from': 'craston/MARS'}
    sd = converted['state_dict']
    assert 'backbone.conv1.weight' in sd and 'cls_head.fc_cls.weight' in sd and 'backbone.fc.weight' not in sd
    model = MODELS.build(recognizer_cfg(2, [127.5, 127.5], [1, 1]))
    model.load_state_dict(sd, strict=True)
    assert torch.equal(model.cls_head.fc_cls.bias, authors['module.fc.bias'])
    assert torch.equal(model.backbone.layer2[1].conv2.weight, authors['module.layer2.1.conv2.weight'])
    back = mmaction_to_mars(model.state_dict())
    assert list(back) == list(authors) and all(torch.equal(back[k], authors[k]) for k in authors)
    assert list(mars_to_mmaction({k[7:]: v for k, v in authors.items()})) == list(sd)  # without DataParallel too
    with pytest.raises(ValueError, match='not a MARS'):
        convert_mars_checkpoint({'state_dict': {'weight': torch.zeros(1)}})


# ------------------------------------------------------------------------------------------------- the recognizer
FLOW_MEAN, FLOW_STD = [128.0, 128.0], [64.0, 64.0]


@pytest.fixture
def teacher_files(tmp_path, mmaction_scope):
    """A trained-looking flow teacher: non-trivial norm statistics, saved as the Runner saves checkpoints."""
    from mmaction.registry import MODELS
    torch.manual_seed(1)
    teacher = MODELS.build(recognizer_cfg(2, FLOW_MEAN, FLOW_STD))
    with torch.no_grad():
        for m in teacher.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict(), 'meta': {}}, path)
    return recognizer_cfg(2, FLOW_MEAN, FLOW_STD), str(path), teacher.state_dict()


def mars_model(teacher_config, teacher_checkpoint, alpha=50.0):
    from mmaction.registry import MODELS
    cfg = recognizer_cfg(3, [114.7748, 107.7354, 99.4750], [1, 1, 1])
    cfg.update(type='MARSRecognizer', teacher_config=teacher_config, teacher_checkpoint=teacher_checkpoint,
               alpha=alpha)
    return MODELS.build(cfg)


def batch(n=2, flow=True, seed=0):
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.randint(0, 256, (1, 3, 8, 32, 32), generator=g, dtype=torch.uint8))
        s = ActionDataSample().set_gt_label(i % 3)
        if flow:
            s.flow = torch.randint(0, 256, (1, 2, 8, 32, 32), generator=g, dtype=torch.uint8)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_loss_is_cross_entropy_plus_alpha_mse_by_hand(teacher_files):
    model = mars_model(*teacher_files[:2], alpha=50.0)
    model.train()
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)

    x = data['inputs'].flatten(0, 1)  # N x clips -> N * clips (one clip each)
    labels = torch.tensor([s.gt_label.item() for s in data['data_samples']])
    feats = model.backbone(x)
    ce = F.cross_entropy(model.cls_head(feats), labels)
    flow = torch.stack([s.flow for s in data['data_samples']]).flatten(0, 1).float()
    flow = (flow - torch.tensor(FLOW_MEAN).view(1, 2, 1, 1, 1)) / torch.tensor(FLOW_STD).view(1, 2, 1, 1, 1)
    with torch.no_grad():
        t = model.teacher.backbone(flow).mean(dim=(2, 3, 4))
    mse = ((feats.mean(dim=(2, 3, 4)) - t) ** 2).mean()
    torch.testing.assert_close(losses['loss_cls'], ce)
    torch.testing.assert_close(losses['loss_mars'], 50.0 * mse)
    torch.testing.assert_close(total, ce + 50.0 * mse)
    assert set(k for k in losses if 'loss' in k) == {'loss_cls', 'loss_mars'}


def test_teacher_is_frozen_outside_the_state_dict_and_gets_no_gradient(teacher_files):
    config, checkpoint, saved = teacher_files
    model = mars_model(config, checkpoint)
    student_keys = set(model.state_dict())
    teacher = model.teacher
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in saved.items())  # loaded strictly
    model.train()
    assert not teacher.training and not any(m.training for m in teacher.modules())
    data = model.data_preprocessor(batch(), True)
    total, _ = model.parse_losses(model(**data, mode='loss'))
    total.backward()
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None for p in model.backbone.parameters())
    assert set(model.state_dict()) == student_keys and not any('teacher' in k for k in student_keys)
    assert {id(p) for p in model.parameters()}.isdisjoint({id(p) for p in teacher.parameters()})
    teacher.train()  # even if switched by hand, the loss runs it in eval mode
    model(**model.data_preprocessor(batch(), True), mode='loss')
    assert not teacher.training


def test_predict_needs_no_teacher_and_training_fails_early_naming_a_missing_teacher(tmp_path, teacher_files):
    model = mars_model('no/such/config.py', str(tmp_path / 'no_such_teacher.pth'))
    model.eval()
    data = model.data_preprocessor(batch(flow=False), False)
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2 and preds[0].pred_score.shape == (3,) and model._teacher is None
    with pytest.raises(FileNotFoundError, match=r'no/such/config.py \(model.teacher_config\) does not exist'):
        model.train()
    config_file = tmp_path / 'teacher_cfg.py'
    config_file.write_text(f"default_scope = 'mmaction'\nmodel = {teacher_files[0]!r}\n")
    model = mars_model(str(config_file), str(tmp_path / 'no_such_teacher.pth'))
    with pytest.raises(FileNotFoundError, match=r'no_such_teacher.pth \(model.teacher_checkpoint\) does not exist'):
        model.train()


def test_loss_needs_the_flow_of_every_sample(teacher_files):
    model = mars_model(*teacher_files[:2])
    model.train()
    with pytest.raises(KeyError, match=r"WithFlow.*algorithm_keys=\('flow',\)"):
        model(**model.data_preprocessor(batch(flow=False), True), mode='loss')


def test_teacher_builds_in_its_own_scope_whatever_scope_is_current(tmp_path, teacher_files):
    from mmengine.registry import DefaultScope
    config_file = tmp_path / 'teacher_cfg.py'
    config_file.write_text(f"default_scope = 'mmaction'\nmodel = {teacher_files[0]!r}\n")
    model = mars_model(str(config_file), teacher_files[1])
    with DefaultScope.overwrite_default_scope('mmengine'):  # e.g. left by another library's runner
        model.train()
    assert not model.teacher.training


def test_batch_blending_is_refused(teacher_files):
    from mmaction.registry import MODELS
    cfg = recognizer_cfg(3, [0, 0, 0], [1, 1, 1])
    cfg['data_preprocessor']['blending'] = dict(type='MixupBlending', alpha=0.2, num_classes=3)
    cfg.update(type='MARSRecognizer', teacher_config=teacher_files[0], teacher_checkpoint=teacher_files[1])
    with pytest.raises(ValueError, match='blending'):
        MODELS.build(cfg)


# ----------------------------------------------------------------------------- RGB and flow: same crop and flip
@pytest.fixture(scope='module')
def rawframes(tmp_path_factory):
    return write_rawframes(tmp_path_factory.mktemp('rawframes'), num_classes=3, train_per_class=1,
                           val_per_class=0, frames=10, size=(32, 32), speed=2)


def _decode(path, flag):
    import mmcv
    return mmcv.imread(str(path), flag=flag, channel_order='rgb')


def test_rgb_and_flow_share_crop_and_flip_on_real_rawframes(rawframes, mmaction_scope):
    """The MARS config's training transforms on real JPEGs: the flow output equals the flow files put through the
    RGB clip's recorded crop, resize and flip (with flow-x inverted when flipped), over many random draws; and the
    flow inside the moving square points the way the square moves in the output, mirrored when flipped."""
    import mmcv
    from mmaction.registry import DATASETS
    from mmengine.dataset import Compose
    cfg = Config.fromfile(str(MARS_DIR / 'mars_resnext3d101_4xb4-16x1x1-400e_kinetics400-rgb.py'))
    steps = [dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1), cfg.train_pipeline[1]]
    assert steps[1]['type'] == 'WithFlow'
    dataset = DATASETS.build(dict(type='RawframeDataset', ann_file=f'{rawframes}/train_list_rawframes.txt',
                                  data_prefix=dict(img=f'{rawframes}/rawframes'), pipeline=[]))
    pipeline = Compose(steps)
    np.random.seed(0)
    seen, motion_checked = {True: 0, False: 0}, 0
    for draw in range(12):
        info = dataset.get_data_info(draw % len(dataset))
        label, video = info['label'], Path(info['frame_dir'])
        out = pipeline(dict(info))
        rgb, flow = out['imgs'][0], out['flow'][0].numpy()  # C x T x H x W
        assert rgb.shape == (3, 8, 112, 112) and flow.shape == (2, 8, 112, 112) and flow.dtype == np.uint8
        x1, y1, x2, y2 = out['crop_bbox']
        for t, idx in enumerate(out['frame_inds']):
            def geometry(img):
                img = mmcv.imresize(img[y1:y2, x1:x2], (112, 112), interpolation='bilinear')
                return img[:, ::-1] if out['flip'] else img
            np.testing.assert_array_equal(rgb[:, t], geometry(_decode(video / f'img_{idx:05d}.jpg', 'color'))
                                          .transpose(2, 0, 1))
            fx = geometry(_decode(video / f'x_{idx:05d}.jpg', 'grayscale'))
            fy = geometry(_decode(video / f'y_{idx:05d}.jpg', 'grayscale'))
            np.testing.assert_array_equal(flow[0, t], 255 - fx if out['flip'] else fx)
            np.testing.assert_array_equal(flow[1, t], fy)
        # the square (red channel 200 on ~40) moves right / left / down for labels 0 / 1 / 2 (fixtures.video)
        square = rgb[0] > 150
        if square.sum() > 20:
            dx, dy = np.median(flow[0][square].astype(float)) - 127.5, np.median(flow[1][square].astype(float)) - 127.5
            expected_dx = {0: 1, 1: -1, 2: 0}[label] * (-1 if out['flip'] else 1)
            assert np.sign(round(dx / 5)) == expected_dx and np.sign(round(dy / 5)) == {0: 0, 1: 0, 2: 1}[label]
            motion_checked += 1
        seen[bool(out['flip'])] += 1
    assert seen[True] and seen[False] and motion_checked >= 6


def test_flow_aware_flip_inverts_flow_x_of_every_frame_and_plain_flip_is_refused(mmaction_scope):
    from mmaction.registry import TRANSFORMS
    frames = [np.stack([np.full((2, 3), 10 * t, np.uint8), np.full((2, 3), 100 + t, np.uint8)], -1)
              for t in range(4)]
    flipped = TRANSFORMS.build(dict(type='FlowAwareFlip', flip_ratio=1.0))(
        dict(imgs=[f.copy() for f in frames], modality='Flow', img_shape=(2, 3)))
    assert flipped['modality'] == 'Flow' and flipped['flip']
    assert [(f[0, 0, 0], f[0, 0, 1]) for f in flipped['imgs']] == [(255 - 10 * t, 100 + t) for t in range(4)]
    rgb = [np.arange(18, dtype=np.uint8).reshape(2, 3, 3)]
    out = TRANSFORMS.build(dict(type='FlowAwareFlip', flip_ratio=1.0))(dict(imgs=[rgb[0].copy()], modality='RGB',
                                                                              img_shape=(2, 3)))
    np.testing.assert_array_equal(out['imgs'][0], rgb[0][:, ::-1])
    with pytest.raises(ValueError, match="FlowAwareFlip"):
        TRANSFORMS.build(dict(type='WithFlow', transforms=[dict(type='Flip', flip_ratio=0.5)]))


def test_with_flow_fails_when_the_views_could_not_share_the_augmentation(tmp_path, mmaction_scope):
    import cv2
    from mmaction.registry import TRANSFORMS
    video = tmp_path / 'v'
    video.mkdir()
    cv2.imwrite(str(video / 'img_00001.jpg'), np.zeros((32, 32, 3), np.uint8))
    for c in 'xy':  # flow at another resolution than the RGB frames
        cv2.imwrite(str(video / f'{c}_00001.jpg'), np.zeros((16, 16), np.uint8))
    sample = dict(frame_dir=str(video), frame_inds=np.array([1]), modality='RGB', filename_tmpl='img_{:05d}.jpg',
                  num_clips=1, clip_len=1)
    with pytest.raises(ValueError, match='differ in size'):
        TRANSFORMS.build(dict(type='WithFlow', transforms=[dict(type='RawFrameDecode')]))(dict(sample))

    def draws_per_modality(results):  # a transform whose random draws depend on the modality
        np.random.rand(2 if results['modality'] == 'Flow' else 1)
        return results

    with pytest.raises(RuntimeError, match='drew different random numbers'):
        TRANSFORMS.build(dict(type='WithFlow', transforms=[draws_per_modality]))(dict(sample))

    def torch_draws_per_modality(results):  # torchvision's random transforms draw from torch's generator
        torch.rand(2 if results['modality'] == 'Flow' else 1)
        return results

    with pytest.raises(RuntimeError, match='drew different random numbers'):
        TRANSFORMS.build(dict(type='WithFlow', transforms=[torch_draws_per_modality]))(dict(sample))

    seen = {}

    def records_draws(results):  # both views must see the same draws of every generator
        seen.setdefault(results['modality'], []).append(
            (float(np.random.rand()), random.random(), float(torch.rand(1))))
        return results

    same_size = tmp_path / 'same_size'
    same_size.mkdir()
    cv2.imwrite(str(same_size / 'img_00001.jpg'), np.zeros((32, 32, 3), np.uint8))
    for c in 'xy':
        cv2.imwrite(str(same_size / f'{c}_00001.jpg'), np.zeros((32, 32), np.uint8))
    with_flow = TRANSFORMS.build(dict(type='WithFlow', transforms=[dict(type='RawFrameDecode'), records_draws]))
    for _ in range(3):
        with_flow(dict(sample, frame_dir=str(same_size)))
    assert seen['RGB'] == seen['Flow'] and len(set(seen['RGB'])) == 3
    with pytest.raises(ValueError, match='inside its transforms'):
        TRANSFORMS.build(dict(type='WithFlow', transforms=[]))(dict(sample, imgs=[]))


# --------------------------------------------------------------------------------------------------- the configs
CONFIGS = sorted(MARS_DIR.glob('*.py'))


def test_config_set_covers_teacher_mars_and_mars_snl_on_both_data_sets():
    names = {p.name for p in CONFIGS}
    for ds in ('kinetics400', 'ucf101-split1'):
        assert {f'resnext3d101_4xb8-16x1x1-400e_{ds}-flow.py', f'mars_resnext3d101_4xb4-16x1x1-400e_{ds}-rgb.py',
                f'mars_resnext3d101-snl_4xb4-16x1x1-400e_{ds}-rgb.py'} <= names
    assert len(CONFIGS) == 6


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_builds_with_the_authors_settings(path, mmaction_scope):
    from mmaction.registry import MODELS
    from mmengine.dataset import Compose
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmaction' and 'snl_plugins' in cfg.custom_imports.imports
    ucf, flow = 'ucf101' in path.name, path.name.endswith('-flow.py')
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum, opt.dampening) == ('SGD', 0.9, 0.9) and 'clip_grad' not in cfg.optim_wrapper
    assert (opt.lr, opt.weight_decay) == ((0.001, 1e-5) if ucf else (0.1, 1e-3))
    assert [(s.type, s.factor, s.patience) for s in cfg.param_scheduler] == [('ReduceOnPlateauLR', 0.1, 10)]
    assert cfg.train_dataloader.batch_size * 4 == (32 if flow else 16)
    assert cfg.train_dataloader.dataset.modality == ('Flow' if flow else 'RGB')
    assert ('ucf101_train_split_1' if ucf else 'kinetics400_train') in cfg.train_dataloader.dataset.ann_file
    if ucf:
        assert cfg.load_from.startswith('checkpoints/') and 'kinetics400' in cfg.load_from
    model_cfg = cfg.model
    host = model_cfg.backbone.module if model_cfg.backbone.type == 'InjectNonlocal' else model_cfg.backbone
    assert (host.depth, host.in_channels, host.get('frozen_stages', -1)) == (101, 2 if flow else 3, 3 if ucf else -1)
    assert model_cfg.cls_head.num_classes == (101 if ucf else 400)
    if not flow:
        assert model_cfg.type == 'MARSRecognizer' and model_cfg.alpha == 50.0
        teacher = Config.fromfile(model_cfg.teacher_config)
        assert teacher.model.backbone.in_channels == 2 and teacher.model.cls_head.num_classes == (101 if ucf else 400)
        data_set = 'ucf101-split1' if ucf else 'kinetics400'
        assert Path(model_cfg.teacher_config).name == f'resnext3d101_4xb8-16x1x1-400e_{data_set}-flow.py'
    with torch.device('meta'):  # structure only
        model = MODELS.build(model_cfg)
    snl = [n for n, m in model.backbone.named_modules() if type(m).__name__ == 'SNL']
    assert snl == (['layer2.snl_before_3'] if '-snl_' in path.name else [])  # right before res3's last block
    assert len(Compose(cfg.train_dataloader.dataset.pipeline).transforms) == (3 if not flow else 7)
