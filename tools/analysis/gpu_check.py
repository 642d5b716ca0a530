#!/usr/bin/env python
"""The GPU check's Python side (run it through ``tools/analysis/gpu_check.sh``, which sets up the environment and a
global time limit): device, matrix-product rate, precision matrix, block benchmark against mmcv / timm, a few
``tools/train.py --amp`` iterations; ``--out DIR/gpu_check.{json,md}``. Without CUDA it runs a CPU fallback at toy
sizes. The logic is :mod:`snl_plugins.analysis.gpu_check`.

    python tools/analysis/gpu_check.py --out work_dirs/gpu_check
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from snl_plugins.analysis.gpu_check import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
