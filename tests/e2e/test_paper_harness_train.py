"""End to end: a config of the paper's comparison harness trains through tools/train.py (tiny CIFAR-10, one epoch of
5 iterations) with the harness options on its block, and its block's parameters move (the authors' start trains)."""
from pathlib import Path

import pytest
import torch

from fixtures.configs import tiny_cls_config
from fixtures.datasets import write_cifar10
from fixtures.tools import check, run_tool, scalars

pytestmark = pytest.mark.slow


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
    log = next(work.glob('*/*.log')).read_text()
    assert "normalize='row'" in log and 'relu=True' in log and 'zero_init=False' in log  # the config as run
