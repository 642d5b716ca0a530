"""End to end, segmentation: tools/train.py and tools/test.py on a tiny VOC2012-layout data set with DeepLabV3-R50 +
SNL (our config, shrunk: crop 64, BN, a narrow head, 4 iterations); and mmsegmentation's own tool sequence
(register_all_modules -> Config.fromfile -> Runner.from_cfg(cfg).train() -> test from the saved checkpoint, with
sliding-window inference) in a fresh
interpreter of an environment with the start-up hook of ``python -m snl_plugins.compat.startup install``."""
import json
import re
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from fixtures.voc import write_voc
from fixtures.configs import tiny_seg_config
from fixtures.tools import check, run_command, run_tool, scalars

pytest.importorskip('mmseg')
pytestmark = pytest.mark.slow
SNL_CFG = ROOT / 'configs/segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'
METRIC_KEYS = ('aAcc', 'mIoU', 'mAcc', 'fwIoU')


def test_metrics(out: str):
    """The metrics line of an mmengine test/val log, as a dict."""
    line = [ln for ln in out.splitlines() if 'Iter(test)' in ln and 'mIoU' in ln]
    assert line, out[-3000:]
    return {k: float(v) for k, v in re.findall(r'(aAcc|mIoU|mAcc|fwIoU): ([\d.]+|nan)', line[-1])}


test_metrics.__test__ = False  # a helper, not a test


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('seg')
    # odd image sizes: whole-image inference runs the blocks on maps that are not the training crop
    data = write_voc(tmp / 'data', n_train=4, n_val=2, size=[(45, 61), (50, 47)])
    return dict(tmp=tmp, data=data, cfg=tiny_seg_config(tmp / 'tiny_deeplabv3_snl.py', data, SNL_CFG))


def test_our_tools_train_then_test(voc):
    tmp, cfg = voc['tmp'], voc['cfg']
    work = tmp / 'work'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert 'Iter(train) [4/4]' in out and (work / 'iter_4.pth').is_file()
    vals = [s for s in scalars(work) if 'mIoU' in s]
    assert len(vals) == 1 and all(0 <= vals[0][k] <= 100 for k in METRIC_KEYS)
    # the block is in the trained model's weights
    import torch
    state = torch.load(work / 'iter_4.pth', map_location='cpu', weights_only=False)['state_dict']
    assert any(k.startswith('backbone.layer3.snl_before_5.') for k in state)

    out = check(run_tool('tools/test.py', cfg, work / 'iter_4.pth', '--work-dir', tmp / 'test_wd'))
    metrics = test_metrics(out)
    assert set(metrics) == set(METRIC_KEYS)
    assert metrics == pytest.approx({k: vals[0][k] for k in METRIC_KEYS}, abs=0.011)  # same checkpoint, same data


def test_bad_mask_fails_naming_the_file(voc, tmp_path):
    import shutil

    import numpy as np
    from fixtures.voc import write_voc_mask
    data = tmp_path / 'VOC2012'
    shutil.copytree(voc['data'], data)
    bad = data / 'SegmentationClass' / '2007_000000.png'  # a training image, 45 x 61
    write_voc_mask(bad, np.full((45, 61), 30, np.uint8))
    cfg = tiny_seg_config(tmp_path / 'bad.py', str(data), SNL_CFG, iters=1)
    proc = run_tool('tools/train.py', cfg, '--work-dir', tmp_path / 'wd')
    assert proc.returncode != 0
    assert 'SegMapError' in proc.stderr and f'mask {bad}' in proc.stderr and ': 30 in 2745 pixels' in proc.stderr


MMSEG_SEQUENCE = '''
import json, sys
from mmseg.utils import register_all_modules
register_all_modules(init_default_scope=True)  # imports mmseg.models (mmcv.ops) before any config is read
from mmengine.config import Config
from mmengine.runner import Runner
cfg_file, work_dir = sys.argv[1], sys.argv[2]
cfg = Config.fromfile(cfg_file)
cfg.work_dir = work_dir
Runner.from_cfg(cfg).train()
cfg = Config.fromfile(cfg_file)  # as mmseg's tools/test.py: load_from = the checkpoint
cfg.work_dir = work_dir + '_test'
cfg.load_from = work_dir + '/iter_4.pth'
# sliding windows smaller than the odd-sized test images, blocks inside (whole-image inference ran in validation)
cfg.model.test_cfg = dict(mode='slide', crop_size=(40, 40), stride=(27, 27))
metrics = Runner.from_cfg(cfg).test()
print('METRICS ' + json.dumps({k: float(v) for k, v in metrics.items()}))
'''


PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


@pytest.fixture(scope='module')
def fresh_env(tmp_path_factory):
    """A new virtual environment whose site-packages (1) chains to the project's environment and (2) holds the
    start-up ``.pth`` written by the documented command, so a fresh interpreter starts as a user's would."""
    tmp = tmp_path_factory.mktemp('venv')
    venv = tmp / 'venv'
    check(run_tool('-m', 'venv', '--without-pip', venv))
    python = venv / 'bin' / 'python'
    site = Path(check(run_command([python, '-c', PURELIB])).strip())
    parent = sysconfig.get_paths()['purelib']
    (site / '00_parent_env.pth').write_text(f'import site; site.addsitedir({parent!r})\n')
    plain = tmp / 'plain'
    check(run_tool('-m', 'venv', '--without-pip', plain))
    plain_python = plain / 'bin' / 'python'
    plain_site = Path(check(run_command([plain_python, '-c', PURELIB])).strip())
    (plain_site / '00_parent_env.pth').write_text(f'import site; site.addsitedir({parent!r})\n')
    out = check(run_command([python, '-m', 'snl_plugins.compat.startup', 'install']))
    assert (site / 'snl_plugins_mmcv_lite.pth').is_file() and str(site) in out
    return dict(python=python, plain_python=plain_python, site=site)


def test_mmseg_own_tool_sequence_with_the_startup_hook(voc, fresh_env, tmp_path):
    # asked of an interpreter without the hook: in this process the answer would depend on what earlier tests
    # imported (the hook's placeholder for mmcv._ext)
    full_mmcv = check(run_command([fresh_env['plain_python'], '-c', 'import importlib.util; '
                                   'print(importlib.util.find_spec("mmcv._ext") is not None)'])).strip() == 'True'
    script = tmp_path / 'mmseg_sequence.py'
    script.write_text(MMSEG_SEQUENCE)
    if not full_mmcv:  # without the hook, mmcv-lite fails before any config (and so custom_imports) is read
        proc = run_command([fresh_env['plain_python'], script, voc['cfg'], tmp_path / 'plain'], cwd=tmp_path)
        assert proc.returncode != 0 and "No module named 'mmcv._ext'" in proc.stderr
    out = check(run_command([fresh_env['python'], script, voc['cfg'], tmp_path / 'work'], cwd=tmp_path))
    assert (tmp_path / 'work' / 'iter_4.pth').is_file()
    metrics = json.loads(out.split('METRICS ', 1)[1].splitlines()[0])
    assert "mode='slide'" in out  # the test Runner's config, as logged
    assert '(VERY_LOW    ) SafeCheckpointHook' in out  # chosen by our config under mmseg's own Runner sequence
    assert set(METRIC_KEYS) <= set(metrics) and all(0 <= metrics[k] <= 100 for k in METRIC_KEYS)


def test_startup_hook_is_inert_until_mmcv_ops(fresh_env):
    out = check(run_command([fresh_env['python'], '-c', 'import sys; print(sorted(m for m in sys.modules if m.startswith(('
                     '"mmcv", "snl_plugins", "torch"))), [type(f).__name__ for f in sys.meta_path][0])']))
    # only the hook's two standard-library modules, under their own names: no torch, no mmcv, no snl_plugins package
    assert out.strip().endswith("['snl_plugins.compat._imports', 'snl_plugins.compat.mmcv_ext'] MmcvLiteFinder")
    from snl_plugins.compat.startup import uninstall  # the CLI's `uninstall` (its `install` ran in fresh_env)
    assert uninstall(str(fresh_env['site'])) == str(fresh_env['site'] / 'snl_plugins_mmcv_lite.pth')
    assert not (fresh_env['site'] / 'snl_plugins_mmcv_lite.pth').exists()
