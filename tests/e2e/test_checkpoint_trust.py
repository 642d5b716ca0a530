"""No code runs from a checkpoint nobody trusted: a pickle payload (``os.system`` in a ``__reduce__``) is planted in
every way a checkpoint comes in (``tools/test.py`` inside and outside ``work_dir``, ``load_from``, ``--resume``,
auto-resume, ``init_cfg`` Pretrained, timm's ``pretrained_cfg_overlay``, the MARS converter, an analysis tool) and
never runs; it runs only where the user names the file (``--trust-checkpoint``), which shows the payload is live.
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` (which makes every load unsafe) is warned about."""
import os
import shutil
import sys

import pytest

from fixtures.configs import tiny_cls_config
from fixtures.datasets import write_cifar10
from fixtures.tools import check, run_command, run_tool

pytestmark = pytest.mark.slow
CONFIG = 'preresnet/preresnet20-snl_1xb128-300e_cifar10.py'


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


@pytest.fixture(scope='module')
def planted(tmp_path_factory):
    """A trained tiny run, and a copy of its checkpoint with a payload in it, in its work_dir and in a download
    folder."""
    import torch
    tmp = tmp_path_factory.mktemp('trust')
    data = write_cifar10(tmp / 'data', n_train=16, n_test=8)
    cfg = tiny_cls_config(tmp / 'tiny.py', CONFIG, data, epochs=1)
    work = tmp / 'work'
    check(run_tool('tools/train.py', cfg, '--work-dir', work))
    marker = tmp / 'code_ran'
    checkpoint = torch.load(work / 'epoch_1.pth', weights_only=False)
    checkpoint['meta']['note'] = Payload(marker)
    inside = work / 'downloaded.pth'
    torch.save(checkpoint, inside)
    (tmp / 'downloads').mkdir()
    outside = tmp / 'downloads' / 'model.pth'
    shutil.copy(inside, outside)
    # a plain state dict with a payload, as timm / the converter read them
    state = dict(checkpoint['state_dict'], evil=Payload(marker))
    plain = tmp / 'downloads' / 'state_dict.pth'
    torch.save(state, plain)
    return dict(tmp=tmp, cfg=cfg, work=work, marker=marker, inside=inside, outside=outside, plain=plain)


def _refused(proc, planted, path=None):
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert not planted['marker'].exists(), 'the payload ran'
    assert 'posix.system' in proc.stderr or 'system' in proc.stderr, proc.stderr[-3000:]
    if path is not None:
        assert str(path) in proc.stderr, proc.stderr[-3000:]


def test_test_tool_inside_and_outside_the_work_dir(planted):
    for path in (planted['inside'], planted['outside']):
        proc = run_tool('tools/test.py', planted['cfg'], path, '--work-dir', planted['work'])
        _refused(proc, planted, path)
        assert 'UntrustedCheckpointError' in proc.stderr and f'--trust-checkpoint {path}' in proc.stderr


def test_training_paths(planted):
    tmp, cfg, outside = planted['tmp'], planted['cfg'], planted['outside']
    _refused(run_tool('tools/train.py', cfg, '--work-dir', tmp / 'load_from', '--cfg-options',
                      f'load_from={outside}'), planted, outside)
    _refused(run_tool('tools/train.py', cfg, '--work-dir', tmp / 'resume', '--resume', outside), planted, outside)
    auto = tmp / 'auto'
    auto.mkdir()
    shutil.copy(planted['inside'], auto / 'epoch_1.pth')
    (auto / 'last_checkpoint').write_text(str(auto / 'epoch_1.pth'))
    _refused(run_tool('tools/train.py', cfg, '--work-dir', auto, '--resume'), planted, auto / 'epoch_1.pth')
    _refused(run_tool('tools/train.py', cfg, '--work-dir', tmp / 'init', '--cfg-options',
                      'model.init_cfg.type=Pretrained', f'model.init_cfg.checkpoint={outside}'), planted, outside)


def test_timm_converter_and_analysis_tool(planted):
    tmp, plain = planted['tmp'], planted['plain']
    proc = run_tool('-c', 'import timm, snl_plugins, sys; timm.create_model("preresnet20_snl", pretrained=True, '
                          'num_classes=10, pretrained_cfg_overlay=dict(file=sys.argv[1]))', plain)
    _refused(proc, planted)
    _refused(run_tool('tools/convert/mars_to_mmaction.py', plain, tmp / 'converted.pth'), planted)
    proc = run_tool('tools/analysis/weight_spectrum.py', '--model', planted['cfg'], planted['outside'],
                    '--out-dir', tmp / 'spectrum', '--no-progress')
    _refused(proc, planted, planted['outside'])


def test_the_payload_runs_only_where_the_user_names_the_file(planted):
    proc = run_tool('tools/test.py', planted['cfg'], planted['outside'], '--work-dir', planted['tmp'] / 'trusted',
                    '--trust-checkpoint', planted['outside'])
    check(proc)
    assert planted['marker'].exists()  # so every refusal above stopped a live payload
    planted['marker'].unlink()


def test_torch_force_variable_is_warned_about():
    env_cmd = ['env', 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1', 'PYTHONWARNINGS=default']
    proc = run_command(env_cmd + [sys.executable, '-c', 'import snl_plugins'])
    check(proc)
    assert 'UnsafeCheckpointLoading: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 is set: torch fully unpickles every ' \
           'checkpoint' in proc.stderr
    proc = run_command(['env', 'PYTHONWARNINGS=default', sys.executable, '-c',
                        'import snl_plugins'])
    assert 'UnsafeCheckpointLoading' not in proc.stderr
