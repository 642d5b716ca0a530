"""End to end on a tiny REAL video data set: UCF-101 layout written with OpenCV (mp4v), converted with
tools/data/ucf101_to_mmaction.py, decoded by mmaction2's decord pipeline; tools/train.py and tools/test.py for I3D-R50 +
SNL, SlowFast-R50 + SNL and P3D-R50 + SNL through the real configs (a tiny config inherits each and shrinks clips to
8 frames of 32 x 32, batch 2, one epoch of 3 iterations); a 2-process gloo run; and mmaction2's own tools replayed."""
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from fixtures.configs import TINY_VIDEO_MODELS as MODELS
from fixtures.configs import tiny_video_config
from fixtures.tools import ACC_METRIC, check, run_tool

pytest.importorskip('mmaction')
pytest.importorskip('decord')

CFG_DIR = ROOT / 'configs' / 'recognition'
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def trained(ucf, tmp_path_factory):
    """tools/train.py once per model, results kept for the tests below."""
    return {}


def _plain_i3d_checkpoint(path: Path) -> str:
    """A plain I3D-R50 recognizer with a 5-class head, saved as the Runner would: a stand-in for the Kinetics-400
    checkpoint that the paper's UCF-101 rows start from."""
    import torch
    import snl_plugins  # noqa: F401
    from mmaction.registry import MODELS as REG
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(CFG_DIR / 'i3d/i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb.py'))
    cfg.model.cls_head.num_classes = 5
    torch.save({'state_dict': REG.build(cfg.model).state_dict(), 'meta': {}}, path)
    return str(path)


def _train(name, ucf, trained, tmp_path_factory):
    if name not in trained:
        tmp = tmp_path_factory.mktemp(name)
        base, model = MODELS[name]
        extra = f"load_from = '{_plain_i3d_checkpoint(tmp / 'i3d_standin.pth')}'" if name == 'i3d' else ''
        cfg = tiny_video_config(tmp / f'tiny_{name}.py', base, model, str(ucf), extra=extra)
        work = tmp / 'work'
        out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
        trained[name] = dict(cfg=cfg, work=work, out=out, tmp=tmp)
    return trained[name]


@pytest.mark.parametrize('name', list(MODELS))
def test_train_then_test_writes_checkpoints_and_metrics(name, ucf, trained, tmp_path_factory):
    run_ = _train(name, ucf, trained, tmp_path_factory)
    work, out = run_['work'], run_['out']
    assert 'Epoch(train) [1][3/3]' in out  # 6 training clips, batch 2
    assert (work / 'epoch_1.pth').is_file() and (work / 'last_checkpoint').is_file()
    if name == 'i3d':  # fine-tuned from plain I3D: only the SNL block (and the resized head) are reported
        assert 'Load checkpoint from' in out
        missing = re.search(r'missing keys in source state_dict: (.*)', out)
        assert missing and all(k.strip().startswith('backbone.layer3.snl_before_5.')
                               for k in missing.group(1).split(','))
        assert 'size mismatch for cls_head.fc_cls.weight' in out
    assert re.search(r'Epoch\(val\).*acc/top1: [\d.]+\s+acc/top5: 1\.0+\s+acc/mean1: [\d.]+', out), out[-2000:]
    proc = run_tool('tools/test.py', run_['cfg'], work / 'epoch_1.pth', '--work-dir', run_['tmp'] / 'test_wd')
    test_out = check(proc)
    m = ACC_METRIC.search(test_out)
    assert m, test_out[-3000:]
    top1, top5, mean1 = map(float, m.groups())
    assert 0 <= top1 <= top5 == 1.0 and 0 <= mean1 <= 1  # fractions; 3 classes: top-5 is everything


def test_distributed_two_processes_gloo(ucf, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    base, model = MODELS['p3d']
    cfg = tiny_video_config(tmp_path / 'tiny_dist.py', base, model, str(ucf))
    launcher = ['-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr=127.0.0.1', f'--master_port={port}']
    out = check(run_tool('tools/train.py', cfg, '--work-dir', tmp_path / 'work', '--launcher', 'pytorch',
                         '--cfg-options', 'env_cfg.dist_cfg.backend=gloo', launcher=launcher, timeout=400))
    assert 'Distributed training: True' in out
    assert 'Epoch(train) [1][2/2]' in out  # 6 clips over 2 processes, batch 2 each
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
    assert re.search(r'Epoch\(val\).*acc/top1', out)


def test_mmaction2_own_tools_replayed(ucf, tmp_path):
    """What mmaction2's tools/train.py and then tools/test.py do, in a fresh process without our tools: the config's
    custom_imports loads snl_plugins (ResNetP3D, InjectNonlocal, the checkpoint loader under torch 2.14)."""
    base, model = MODELS['p3d']
    cfg = tiny_video_config(tmp_path / 'tiny_upstream.py', base, model, str(ucf))
    work = tmp_path / 'work'
    code = textwrap.dedent(f'''
        import sys
        from mmengine.config import Config
        from mmengine.runner import Runner
        assert 'snl_plugins' not in sys.modules
        cfg = Config.fromfile("{cfg}")  # mmaction2 tools/train.py
        cfg.work_dir = "{work}"
        cfg.launcher = 'none'
        Runner.from_cfg(cfg).train()
        cfg = Config.fromfile("{cfg}")  # mmaction2 tools/test.py CONFIG CHECKPOINT
        cfg.work_dir = "{tmp_path / 'test_wd'}"
        cfg.launcher = 'none'
        cfg.load_from = "{work / 'epoch_1.pth'}"
        print('METRICS', Runner.from_cfg(cfg).test())
    ''')
    out = check(run_tool('-c', code))
    assert 'Epoch(train) [1][3/3]' in out and (work / 'epoch_1.pth').is_file()
    assert f"Load checkpoint from {work / 'epoch_1.pth'}" in out and ACC_METRIC.search(out), out[-3000:]
    assert "'acc/top1'" in out and "'acc/top5'" in out and "'acc/mean1'" in out
