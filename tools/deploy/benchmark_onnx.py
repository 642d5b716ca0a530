#!/usr/bin/env python
"""ONNX Runtime (CPU) latency against PyTorch eager, one model of each family side by side in one process:
``python tools/deploy/benchmark_onnx.py [--models KEY ...] [--timm NAME ...] [--configs CONFIG ...] [--repeats 5]
[--threads 1] [--out PREFIX]`` (writes PREFIX.json and PREFIX.md; ``--help`` for the rest). The logic is
:mod:`snl_plugins.deploy.benchmark`."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # a clean clone runs without being installed

from snl_plugins.deploy.cli import benchmark_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(benchmark_main(root=str(ROOT)))
