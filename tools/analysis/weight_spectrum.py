#!/usr/bin/env python
"""Weight spectrum (Fig. 5): ``python tools/analysis/weight_spectrum.py --model CONFIG CHECKPOINT [--model CONFIG2
CHECKPOINT2 ...] [-k 32] [--out-dir DIR]``: top-k eigenvalues of (W_g W + (W_g W)^T)/2 per block, PNG and JSON.
The logic is :mod:`snl_plugins.analysis.spectrum`."""
from snl_plugins.analysis.spectrum import main

if __name__ == '__main__':
    main()
