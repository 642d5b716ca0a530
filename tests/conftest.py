"""Shared test set-up: ``tests/`` on ``sys.path`` for the data-set writers in ``fixtures/`` (imported as
``fixtures.<name>``, since mmsegmentation installs a top-level ``tests`` package of its own), and one intra-op
thread per test."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors on a shared 2-core CPU: one intra-op thread avoids spin-waiting (gradcheck about 10x faster).
    The setting is restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
