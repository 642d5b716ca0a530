"""End to end, mixed precision on CPU: ``tools/train.py CONFIG --amp`` (bfloat16 autocast) and ``--amp --amp-dtype
float16`` (float16 autocast + gradient scaler) through the real tools, one run per family: classification
(PreResNet-20 + SNL on CIFAR-10), video (I3D-R50 + SNL on UCF-101 clips, gradient clipping on), segmentation
(DeepLabV3-R50 + SNL on VOC2012) and video re-ID (RTMtp + SNL on Mars). Each tiny config is the family's own
end-to-end one (tests/e2e/test_*_tools.py), trained a few more iterations with ``window_size=1`` (the logged losses
are per iteration) and changed where a CPU kernel in half precision needs it (see each builder). The log must show the
CPU wrapper, ``skipped_steps`` 0 at every iteration, float16's ``loss_scale`` never backing off, and the loss
falling (mean of the last third of the iterations below the mean of the first)."""
import math
import re
from pathlib import Path

import pytest

from fixtures.configs import (TINY_VIDEO_MODELS, VIDEO_PIPELINES, tiny_cls_config, tiny_reid_config, tiny_seg_config,
                              tiny_video_config)
from fixtures.datasets import write_cifar10
from fixtures.reid import write_mars
from fixtures.tools import ROOT, check, run_tool, scalars
from fixtures.voc import write_voc

SEG_SNL_CFG = ROOT / 'configs/segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'

pytestmark = pytest.mark.slow
DTYPES = ('bfloat16', 'float16')
PER_ITER_LOG = "log_processor = dict(window_size=1)\n"


def _cls(tmp: Path, ucf):
    data = write_cifar10(tmp / 'data', n_train=16, n_test=8)  # batch 8: 2 iterations an epoch
    return tiny_cls_config(tmp / 'amp_cifar10.py', 'preresnet/preresnet20-snl_1xb128-300e_cifar10.py', data,
                           epochs=5, extra=PER_ITER_LOG + "default_hooks = dict(logger=dict(interval=1), "
                           "checkpoint=dict(interval=5))\n")


def _video(tmp: Path, ucf):
    # I3D-R50 from scratch; clip_grad max_norm 40: float16 unscales before clipping
    base, model = TINY_VIDEO_MODELS['i3d']
    assert model.count('cls_head=dict(num_classes=3)') == 1
    model = model.replace('cls_head=dict(num_classes=3)', 'cls_head=dict(num_classes=3, dropout_ratio=0.0)')
    cfg = tiny_video_config(tmp / 'amp_i3d.py', base, model, str(ucf),
                            extra=PER_ITER_LOG + "train_cfg = dict(max_epochs=8, val_interval=8)\n"
                            "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=8))\n")
    # a loss that falls from step to step, not one that jumps with the batch or the head's dropout (0.5): all 6
    # training clips in one batch, no dropout;
    # frames resized to 64 x 64, not 32: at 32 layer4's maps are 1 x 1 over 2 frames, and its BatchNorm, normalising
    # a handful of values a channel, returns float16 gradients that overflow at any loss scale
    text = cfg.read_text()
    assert VIDEO_PIPELINES.count('scale=(-1, 32)') == 3 and text.count('train_dataloader = dict(batch_size=2,') == 1
    cfg.write_text(text.replace('scale=(-1, 32)', 'scale=(-1, 64)').replace(
        'train_dataloader = dict(batch_size=2,', 'train_dataloader = dict(batch_size=6,'))
    return cfg


def _seg(tmp: Path, ucf):
    data = write_voc(tmp / 'data', n_train=2, n_val=1, size=[(45, 61), (50, 47)])
    cfg = tiny_seg_config(tmp / 'amp_deeplabv3_snl.py', data, SEG_SNL_CFG, iters=8)
    # crops of 32, not 64: torch 2.14 runs float16 convolutions with dilation >= 3 on CPU through a slow generic
    # kernel (70x bfloat16's), and DeepLabV3-R50-D8's layer4 (dilation 4, 512 channels) dominates: ~9 s an
    # iteration at 64, ~3.5 s at 32
    text = cfg.read_text()
    assert text.count('crop_size = (64, 64)') == 1 and text.count('scale=(128, 64)') == 1
    text = text.replace('crop_size = (64, 64)', 'crop_size = (32, 32)').replace('scale=(128, 64)', 'scale=(64, 32)')
    cfg.write_text(text + PER_ITER_LOG.replace('window_size=1', 'by_epoch=False, window_size=1'))
    return cfg


def _reid(tmp: Path, ucf):
    import timm
    import torch
    weights = tmp / 'resnet18_in1k.pth'
    torch.manual_seed(0)
    torch.save(timm.create_model('resnet18', num_classes=1000).state_dict(), weights)
    cfg = tiny_reid_config(tmp / 'amp_mars.py', 'rtmtp_r50-snl_1xp8k4-800e_mars.py', write_mars(tmp / 'mars'),
                           weights, num_ids=4, epochs=4)  # 4 identities, P = 2: 2 iterations an epoch
    # frames of 32 x 32, not 32 x 16: on CPUs with AMX / AVX512-FP16, torch 2.14's oneDNN 3x3 stride-2 convolution
    # in bfloat16 / float16 returns garbage (NaN at times, differing from call to call) when its output is one column
    # wide, which ResNet-18's layer3 would make of 32 x 16 frames (maps 4 x 2 -> 2 x 1)
    text = cfg.read_text()
    assert text.count('(32, 16)') == 2 and text.count('height=32, width=16') == 1
    text = text.replace('(32, 16)', '(32, 32)').replace('height=32, width=16', 'height=32, width=32')
    cfg.write_text(text + PER_ITER_LOG)
    return cfg


FAMILIES = {'classification': _cls, 'video': _video, 'segmentation': _seg, 'reid': _reid}
# The float16 runs start the dynamic loss scale where these models' gradients fit in float16; GradScaler's default,
# 2^16, has the first steps skipped while the scale backs off (its calibration, as on a GPU): I3D-R50 from scratch
# has activation gradients of about 1.5 at its stem (2^16 x 1.5 > 65504; the scale settles at 512), and the stem
# convolutions' weight gradients of RTMtp's ResNet-18 (about 1.35) and of DeepLabV3 at 32 x 32 crops overflow at
# 2^16 (one step skipped each). None of those is in an SNL block.
FP16_INIT_SCALE = {'classification': None, 'video': 256.0, 'segmentation': 16384.0, 'reid': 16384.0}


@pytest.fixture
def ucf_if_needed(request):
    """The UCF-101 clips of the video tests (tests/e2e/conftest.py), for the video family only."""
    if request.node.callspec.params['family'] != 'video':
        return None
    pytest.importorskip('mmaction')
    pytest.importorskip('decord')
    return request.getfixturevalue('ucf')


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('family', list(FAMILIES))
def test_amp_training_on_cpu_skips_no_step_and_the_loss_falls(family, dtype, tmp_path, ucf_if_needed):
    if family == 'segmentation':
        pytest.importorskip('mmseg')
    cfg = FAMILIES[family](tmp_path, ucf_if_needed)
    work = tmp_path / 'work'
    args = ['--amp']  # bfloat16: the CPU default
    init_scale = FP16_INIT_SCALE[family] if dtype == 'float16' else None
    if dtype == 'float16':
        args += ['--amp-dtype', 'float16']
        if init_scale is not None:
            args += ['--cfg-options', f'optim_wrapper.loss_scale.init_scale={init_scale}']
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work, *args, timeout=600))

    dumped = (work / cfg.name).read_text()  # the config the run used, as mmengine dumps it
    assert "type='CPUAmpOptimWrapper'" in dumped and f"dtype='{dtype}'" in dumped
    train = [s for s in scalars(work) if 'loss' in s and 'skipped_steps' in s]
    losses = [s['loss'] for s in train]
    assert len(losses) >= 6 and all(math.isfinite(l) for l in losses), losses
    # no step was skipped: the count is 0 at every iteration, in scalars.json and in the text log
    assert [s['skipped_steps'] for s in train] == [0] * len(train), train
    logged = [int(n) for n in re.findall(r'skipped_steps: (\d+)', out)]
    assert len(logged) == len(train) and not any(logged)
    if dtype == 'float16':  # the dynamic scale never backed off (it grows only after 2000 good steps)
        scale = init_scale or 65536.0
        assert [s['loss_scale'] for s in train] == [scale] * len(train)
        assert len(re.findall(rf'loss_scale: {scale:.4f}\s', out)) == len(train)
    else:
        assert not any('loss_scale' in s for s in train) and 'loss_scale: ' not in out
    k = max(2, len(losses) // 3)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    print(f'{family} {dtype}: {len(losses)} iterations, loss {first:.4f} (first {k}) -> {last:.4f} (last {k})')
    assert last < first, losses
