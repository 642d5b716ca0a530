#!/usr/bin/env python
"""Stable hypothesis (Fig. 2 / 6): ``python tools/analysis/stable_hypothesis.py CONFIG CHECKPOINT [--split test]
[--block NAME ...] [--num-samples N] [--out-dir DIR]``. Histograms of A, A^2, A^3, A^4 on shared bins and the
idempotency gap, as PNG and JSON. The logic is :mod:`snl_plugins.analysis.stability`."""
from snl_plugins.analysis.stability import main

if __name__ == '__main__':
    main()
