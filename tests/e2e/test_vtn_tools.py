"""End to end: ResNet34-VTN and VTN + SNL through tools/train.py and tools/test.py on a tiny real video data set
(UCF-101 layout, decoded by decord), each fine-tuned from a plain-VTN stand-in for the Kinetics-400 checkpoint, via the
real UCF-101 configs shrunk by a tiny config: 4-frame clips (every second frame of 8) at 32 x 32, batch 2, one epoch
of 3 iterations with the configs' Adam and plateau schedule, then a 2-clip test."""
import re
from pathlib import Path

import pytest

from fixtures.tools import ACC_METRIC, check, run_tool

pytest.importorskip('mmaction')
pytest.importorskip('decord')

ROOT = Path(__file__).resolve().parents[2]
VTN_DIR = ROOT / 'configs' / 'recognition' / 'vtn'
pytestmark = pytest.mark.slow

CONFIGS = {'vtn': 'vtn_r34_8xb2-16x2x1-200e_ucf101-split1-rgb.py',
           'vtn-snl': 'vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb.py'}
TINY_HEAD = "model = dict(cls_head=dict(num_classes=3, clip_len=4))"


def pipeline(clips: int, test_mode: bool, flip: bool = False) -> str:
    sample = f"dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips={clips}, test_mode={test_mode})"
    steps = ["dict(type='DecordInit')", sample, "dict(type='DecordDecode')", "dict(type='Resize', scale=(-1, 32))"]
    steps += ["dict(type='Flip', flip_ratio=0.5)"] if flip else []
    steps += ["dict(type='FormatShape', input_format='NCHW')", "dict(type='PackActionInputs')"]
    return '[' + ', '.join(steps) + ']'


def tiny_config(path: Path, base: str, data: Path, load_from: str) -> Path:
    lists, videos = data, data / 'UCF-101'
    path.write_text(f'''_base_ = ['{VTN_DIR / base}']
{TINY_HEAD}
load_from = '{load_from}'
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file='{lists}/ucf101_train_split_1_videos.txt',
                                     data_prefix=dict(video='{videos}'), pipeline={pipeline(1, False, True)}))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(ann_file='{lists}/ucf101_val_split_1_videos.txt',
                                   data_prefix=dict(video='{videos}'), pipeline={pipeline(1, True)}))
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                       dataset=dict(ann_file='{lists}/ucf101_val_split_1_videos.txt',
                                    data_prefix=dict(video='{videos}'), pipeline={pipeline(2, True)}))
train_cfg = dict(max_epochs=1, val_begin=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
randomness = dict(seed=0)
''')
    return path


def plain_vtn_checkpoint(path: Path) -> str:
    """A plain VTN recognizer (5 classes, clips of 4) saved as the Runner would: a stand-in for the Kinetics-400
    checkpoint that the UCF-101 configs start from."""
    import torch
    import snl_plugins  # noqa: F401
    from mmaction.registry import MODELS as REG
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(VTN_DIR / CONFIGS['vtn']))
    cfg.model.cls_head.update(num_classes=5, clip_len=4)
    torch.save({'state_dict': REG.build(cfg.model).state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.fixture(scope='module')
def standin(tmp_path_factory):
    return plain_vtn_checkpoint(tmp_path_factory.mktemp('vtn_standin') / 'vtn_kinetics_standin.pth')


@pytest.mark.parametrize('name', list(CONFIGS))
def test_train_then_test_writes_checkpoint_and_metrics(name, ucf, standin, tmp_path):
    cfg = tiny_config(tmp_path / f'tiny_{name}.py', CONFIGS[name], ucf, standin)
    work = tmp_path / 'work'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert 'Epoch(train) [1][3/3]' in out  # 6 training clips, batch 2
    assert (work / 'epoch_1.pth').is_file() and (work / 'last_checkpoint').is_file()
    assert 'Load checkpoint from' in out and 'size mismatch for cls_head.fc_cls.weight' in out
    missing = re.search(r'missing keys in source state_dict: (.*)', out)
    if name == 'vtn':  # everything but the resized classifier comes from the stand-in
        assert missing is None
    else:  # the SNL blocks are new; the stand-in's MHSA weights are left over
        assert missing and all(re.fullmatch(r'cls_head\.encoder\.layers\.\d\.attention\.\S+', k.strip())
                               for k in missing.group(1).split(','))
        assert re.search(r'unexpected key in source state_dict: .*attention\.w_q', out)
    assert re.search(r'Epoch\(val\).*acc/top1: [\d.]+\s+acc/top5: 1\.0+\s+acc/mean1: [\d.]+', out), out[-2000:]
    test_out = check(run_tool('tools/test.py', cfg, work / 'epoch_1.pth', '--work-dir', tmp_path / 'test_wd'))
    m = ACC_METRIC.search(test_out)
    assert m, test_out[-3000:]
    top1, top5, mean1 = map(float, m.groups())
    assert 0 <= top1 <= top5 == 1.0 and 0 <= mean1 <= 1  # 3 classes: top-5 is everything
