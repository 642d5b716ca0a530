"""End to end on a tiny REAL rawframe data set (RGB and x / y flow JPEGs in mmaction2's naming, fixtures/rawframes.py):
tools/train.py trains the ResNeXt3D flow teacher, then MARS + SNL from that teacher's checkpoint, and tools/test.py
tests the MARS + SNL checkpoint (RGB only), all through the real configs (tiny configs inherit them and shrink the
network to ResNeXt3D-50 with blocks (1, 2, 1, 1), clips to 8 frames of 32 x 32, one epoch of 3 iterations)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from fixtures.rawframes import write_rawframes
from fixtures.tools import ACC_METRIC, check, run_tool

pytest.importorskip('mmaction')

MARS_DIR = ROOT / 'configs' / 'recognition' / 'mars'
pytestmark = pytest.mark.slow

SMALL = dict(depth=50, stage_blocks=(1, 2, 1, 1))
TINY_DATA = '''
augment = [dict(type='RawFrameDecode'),
           dict(type='MultiScaleCrop', input_size=32, scales={{{{_base_.mars_scales}}}}, random_crop=False,
                max_wh_scale_gap=0),
           dict(type='Resize', scale=(32, 32), keep_ratio=False), dict(type='FlowAwareFlip', flip_ratio=0.5),
           dict(type='FormatShape', input_format='NCTHW')]
sample = dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1)
train_pipeline = {train}
val_pipeline = [dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1, test_mode=True),
                dict(type='RawFrameDecode'), dict(type='Resize', scale=(-1, 32)), dict(type='CenterCrop', crop_size=32),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
test_pipeline = [dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=2, test_mode=True),
                 *val_pipeline[1:]]
frames = '{data}/rawframes'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file='{data}/train_list_rawframes.txt', data_prefix=dict(img=frames),
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(ann_file='{data}/val_list_rawframes.txt', data_prefix=dict(img=frames),
                                   pipeline=val_pipeline))
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                       dataset=dict(ann_file='{data}/val_list_rawframes.txt', data_prefix=dict(img=frames),
                                    pipeline=test_pipeline))
train_cfg = dict(max_epochs=1)
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
randomness = dict(seed=0)
'''
FLOW_TRAIN = "[sample, *augment, dict(type='PackActionInputs')]"
MARS_TRAIN = ("[sample, dict(type='WithFlow', transforms=augment), "
              "dict(type='PackActionInputs', algorithm_keys=('flow',))]")


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The flow teacher, then MARS + SNL distilled from it, each through tools/train.py."""
    tmp = tmp_path_factory.mktemp('mars')
    data = write_rawframes(tmp / 'data', num_classes=3, train_per_class=2, val_per_class=1, frames=10, size=(32, 32))
    teacher_cfg = tmp / 'tiny_flow.py'
    teacher_cfg.write_text(f"_base_ = ['{MARS_DIR / 'resnext3d101_4xb8-16x1x1-400e_kinetics400-flow.py'}']\n"
                           f"model = dict(backbone=dict({', '.join(f'{k}={v!r}' for k, v in SMALL.items())}), "
                           "cls_head=dict(num_classes=3))\n" + TINY_DATA.format(train=FLOW_TRAIN, data=data))
    teacher_out = check(run_tool('tools/train.py', teacher_cfg, '--work-dir', tmp / 'flow'))
    mars_cfg = tmp / 'tiny_mars_snl.py'
    mars_cfg.write_text(f"_base_ = ['{MARS_DIR / 'mars_resnext3d101-snl_4xb4-16x1x1-400e_kinetics400-rgb.py'}']\n"
                        f"model = dict(backbone=dict(module=dict({', '.join(f'{k}={v!r}' for k, v in SMALL.items())})),"
                        f" cls_head=dict(num_classes=3), teacher_config='{teacher_cfg}', "
                        f"teacher_checkpoint='{tmp / 'flow' / 'epoch_1.pth'}')\n"
                        + TINY_DATA.format(train=MARS_TRAIN, data=data))
    mars_out = check(run_tool('tools/train.py', mars_cfg, '--work-dir', tmp / 'mars'))
    return dict(tmp=tmp, teacher_out=teacher_out, mars_cfg=mars_cfg, mars_out=mars_out)


def test_flow_teacher_then_mars_snl_train_and_test(runs):
    import torch
    tmp = runs['tmp']
    for out, work in ((runs['teacher_out'], tmp / 'flow'), (runs['mars_out'], tmp / 'mars')):
        assert 'Epoch(train) [1][3/3]' in out  # 6 training clips, batch 2
        assert (work / 'epoch_1.pth').is_file() and (work / 'last_checkpoint').is_file()
        assert re.search(r'Epoch\(val\).*acc/top1: [\d.]+\s+acc/top5: 1\.0+\s+acc/mean1: [\d.]+', out), out[-2000:]
    assert re.search(r'Epoch\(train\) \[1\]\[3/3\].*loss_cls: [\d.]+\s+loss_mars: [\d.]+', runs['mars_out'])

    state = torch.load(tmp / 'mars' / 'epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    assert any(k.startswith('backbone.layer2.snl_before_1.') for k in state)  # SNL before res3's last block
    assert state['backbone.conv1.weight'].shape[1] == 3 and not any('teacher' in k for k in state)

    # testing is RGB only: the teacher's files need not exist where the student is tested
    test_out = check(run_tool('tools/test.py', runs['mars_cfg'], tmp / 'mars' / 'epoch_1.pth',
                              '--work-dir', tmp / 'test', '--cfg-options',
                              f"model.teacher_config={tmp / 'gone' / 'flow.py'}",
                              f"model.teacher_checkpoint={tmp / 'gone' / 'flow.pth'}"))
    m = ACC_METRIC.search(test_out)
    assert m, test_out[-3000:]
    top1, top5, mean1 = map(float, m.groups())
    assert 0 <= top1 <= top5 == 1.0 and 0 <= mean1 <= 1  # 3 classes: top-5 is everything
