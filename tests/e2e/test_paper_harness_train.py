"""End to end: a config of the paper's comparison harness of each family trains through tools/train.py on a tiny data
set in its published layout (CIFAR-10, UCF-101, VOC2012, PRID2011) with the harness options on its blocks, as its log
shows, and (classification, video) its blocks' norms move from the authors' start."""

import pytest
import torch

from fixtures.configs import (SEG_TINY_MODEL, TINY_VIDEO_MODELS, tiny_cls_config, tiny_reid_config, tiny_seg_config,
                              tiny_video_config)
from fixtures.datasets import write_cifar10
from fixtures.reid import write_prid2011
from fixtures.tools import ROOT, check, run_tool, scalars
from fixtures.voc import write_voc

pytestmark = pytest.mark.slow


def _log(work):
    return next(work.glob('*/*.log')).read_text()


def test_harness_config_trains_through_the_train_tool(tmp_path):
    data = write_cifar10(tmp_path / 'data', n_train=40, n_test=8)
    cfg = tiny_cls_config(tmp_path / 'tiny_harness.py', 'paper_harness/preresnet20-snl-harness_1xb128-300e_cifar10.py',
                          data, epochs=1)
    work = tmp_path / 'work'
    check(run_tool('tools/train.py', cfg, '--work-dir', work))
    losses = [s['loss'] for s in scalars(work) if 'loss' in s]
    assert len(losses) == 5 and all(v == v for v in losses)  # one per iteration, finite
    state = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    norm = state['model.layer1.snl_after_1.norm.weight']
    assert not torch.equal(norm, torch.ones_like(norm))  # started at 1 (harness), moved by training
    log = _log(work)
    assert "normalize='row'" in log and 'relu=True' in log and 'zero_init=False' in log  # the config as run


def test_video_harness_config_trains_through_the_train_tool(ucf, tmp_path):
    """I3D-R50 + SNL in the harness (row normalisation, BN 1 + ReLU) on the tiny UCF-101 layout, one epoch."""
    _, model = TINY_VIDEO_MODELS['i3d']
    cfg = tiny_video_config(tmp_path / 'tiny_i3d_harness.py',
                            'paper_harness/i3d_r50-snl-harness_8xb8-32x2x1-100e_ucf101-split1-rgb.py', model, str(ucf))
    work = tmp_path / 'work'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert 'Epoch(train) [1][3/3]' in out
    state = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    norm = state['backbone.layer3.snl_before_5.norm.weight']
    assert not torch.equal(norm, torch.ones_like(norm))
    log = _log(work)
    assert "normalize='row'" in log and 'relu=True' in log


def test_segmentation_harness_config_trains_through_the_train_tool(tmp_path):
    """DeepLabV3-R50 + NS in the harness (dot kernel, BN 1 + ReLU), the harness's blocks with BN for the CPU."""
    data = write_voc(tmp_path / 'data', n_train=4, n_val=2, size=[(45, 61), (50, 47)])
    model = SEG_TINY_MODEL.replace(
        "blocks=[dict(type='SNL', at='layer3.-1', position='before', norm_cfg=norm_cfg)]",
        "blocks=[dict(b, norm_cfg=norm_cfg) for b in _base_.model.backbone.blocks]")  # the harness's own blocks
    assert '_base_.model.backbone.blocks' in model
    cfg = tiny_seg_config(tmp_path / 'tiny_seg_harness.py', data,
                          ROOT / 'configs/segmentation/paper_harness/deeplabv3_r50-d8-ns-harness_4xb4-20k_voc12aug-'
                          '512x512.py', iters=2, model=model)
    work = tmp_path / 'work'
    check(run_tool('tools/train.py', cfg, '--work-dir', work))
    state = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert any(k.startswith('backbone.layer3.ns_before_5.') for k in state)
    log = _log(work)
    assert "kernel='dot'" in log and 'relu=True' in log and 'zero_init=False' in log


def test_reid_harness_config_trains_through_the_train_tool(tmp_path):
    """RTMtp + NL in the harness on a tiny PRID2011 layout, one epoch with validation."""
    import timm
    weights = tmp_path / 'resnet18_in1k.pth'
    torch.save(timm.create_model('resnet18', num_classes=1000).state_dict(), weights)
    root = write_prid2011(tmp_path / 'prid', min_frames=4)
    cfg = tiny_reid_config(tmp_path / 'tiny_reid_harness.py', 'paper_harness/rtmtp_r50-nl-harness_1xp8k4-800e_'
                           'prid2011.py', root, weights, 3, ', min_frames=4', epochs=1)
    work = tmp_path / 'work'
    check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert [s for s in scalars(work) if 'reid/mAP' in s]
    log = _log(work)
    assert "kernel='dot'" in log and 'relu=True' in log
