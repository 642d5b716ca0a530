"""No run is lost to a kill, and resume continues bit for bit (SafeCheckpointHook, snl_plugins.engine.checkpoint).

A tiny PreResNet-20 + SNL training on a CIFAR-10 layout, with the config's random crop and flip, a checkpoint every
epoch, ``max_keep_ckpts=1`` and the best checkpoint kept, is started with ``tools/train.py --resume`` and killed with
SIGKILL again and again: at random moments, and right inside checkpoint writes (slowed down here so that kills can
land in them). Each time it resumes from what is on disk. Its final weights equal an uninterrupted run's exactly.
Resuming once, without kills, shows what the random states in the checkpoint are for: with mmengine's own
``CheckpointHook`` the resumed run's augmentation draws differently and its weights differ."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from fixtures.configs import tiny_cls_config
from fixtures.datasets import write_cifar10
from fixtures.tools import ROOT, check, run_tool, tool_env

pytestmark = pytest.mark.slow
CONFIG = 'preresnet/preresnet20-snl_1xb128-300e_cifar10.py'
EPOCHS = 4
KILLS = 6  # kill attempts before the run is left to finish
# tools/train.py with every checkpoint write slowed down half-way (where a kill truncates an in-place write)
SLOW_WRITES = '''
import runpy, sys, time
from snl_plugins.engine import checkpoint

def slow_write(path, data):
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
        f.flush()
        time.sleep(0.6)
        f.write(data[len(data) // 2:])

checkpoint._write_file = slow_write
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _config(tmp, data, hook: str = 'SafeCheckpointHook'):
    extra = f"default_hooks = dict(logger=dict(interval=1), checkpoint=dict(type='{hook}', interval=1, " \
            "max_keep_ckpts=1))"
    return tiny_cls_config(tmp / f'tiny_{hook}.py', CONFIG, data, epochs=EPOCHS, extra=extra)


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def _assert_equal(a, b):
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'{len(different)} of {len(a)} tensors differ, e.g. {different[:3]}'


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('faults')
    data = write_cifar10(tmp / 'data', n_train=24, n_test=8)
    cfg = _config(tmp, data)
    reference = tmp / 'reference'
    check(run_tool('tools/train.py', cfg, '--work-dir', reference))
    return dict(tmp=tmp, data=data, cfg=cfg, reference=_weights(reference / f'epoch_{EPOCHS}.pth'))


def _tmp_files(work):
    return [n for n in os.listdir(work) if n.endswith('.snl-tmp')] if work.is_dir() else []


def test_killed_again_and_again_it_ends_where_an_uninterrupted_run_ends(tiny, tmp_path):
    launcher = tmp_path / 'slow_writes.py'
    launcher.write_text(SLOW_WRITES)
    work = tmp_path / 'work'
    rng = random.Random(0)
    kills, in_writes, finished = 0, 0, False
    for attempt in range(KILLS + 1):  # the last run is left to finish
        log_path = tmp_path / f'run_{attempt}.log'
        with open(log_path, 'w') as log:
            proc = subprocess.Popen([sys.executable, launcher, ROOT / 'tools/train.py', tiny['cfg'], '--work-dir',
                                     work, '--resume'], cwd=ROOT, env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
            # even attempts: killed the moment a checkpoint write is under way; odd ones: at a random moment
            deadline = time.monotonic() + (600 if attempt == KILLS else 120 if attempt % 2 == 0
                                           else rng.uniform(2.0, 8.0))
            while (proc.poll() is None and time.monotonic() < deadline
                   and not (attempt < KILLS and attempt % 2 == 0 and _tmp_files(work))):
                time.sleep(0.05)
            if proc.poll() is None:
                assert attempt < KILLS, 'the last run did not finish in 10 minutes'
                in_writes += bool(_tmp_files(work))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        assert proc.returncode == 0, log_path.read_text()[-3000:]
        finished = True
        break
    assert finished
    assert kills >= KILLS // 2 and in_writes >= KILLS // 2 - 1, (kills, in_writes)
    assert not _tmp_files(work)  # left by the kills, removed on resume
    names = sorted(os.listdir(work))
    assert f'epoch_{EPOCHS}.pth' in names and sum(n.startswith('epoch_') for n in names) <= 2  # max_keep_ckpts=1
    _assert_equal(_weights(work / f'epoch_{EPOCHS}.pth'), tiny['reference'])


@pytest.mark.parametrize('hook, exact', [('SafeCheckpointHook', True), ('CheckpointHook', False)])
def test_one_resume_is_exact_only_with_the_random_states(tiny, tmp_path, hook, exact):
    cfg = _config(tmp_path, tiny['data'], hook)
    work = tmp_path / 'work'
    # stopped after epoch 2 (the schedule's milestones do not depend on max_epochs), then resumed to the end
    check(run_tool('tools/train.py', cfg, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=2'))
    check(run_tool('tools/train.py', cfg, '--work-dir', work, '--resume'))
    reference = tiny['reference'] if hook == 'SafeCheckpointHook' else None
    if reference is None:  # mmengine's hook: its own uninterrupted run
        check(run_tool('tools/train.py', cfg, '--work-dir', tmp_path / 'straight'))
        reference = _weights(tmp_path / 'straight' / f'epoch_{EPOCHS}.pth')
    resumed = _weights(work / f'epoch_{EPOCHS}.pth')
    if exact:
        _assert_equal(resumed, reference)
    else:
        assert any(not torch.equal(resumed[k], reference[k]) for k in reference)

