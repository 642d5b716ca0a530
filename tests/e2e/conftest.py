"""Data shared by the end-to-end video tests (read only)."""
from pathlib import Path

import pytest

from fixtures.tools import check, run_tool
from fixtures.video import write_ucf101


@pytest.fixture(scope='session')
def ucf(tmp_path_factory):
    """UCF-101 layout, 3 classes x (2 train + 1 test) clips of 8 frames at 32 x 32, with split-1 lists written by
    our converter tool (tools/data/ucf101_to_mmaction.py)."""
    root = write_ucf101(tmp_path_factory.mktemp('video') / 'ucf101', frames=8, size=(32, 32))
    check(run_tool('tools/data/ucf101_to_mmaction.py', 'ucf101', root, '--splits', '1', timeout=120))
    return Path(root)
