#!/usr/bin/env python
"""``make demo``: train and evaluate PreResNet-20 and PreResNet-20 + SNL on scikit-learn's handwritten digits through
``tools/train.py`` / ``tools/test.py``; print a table, save learning curves and the work dirs.
``python tools/demo.py [--seeds 0 1] [--epochs 8] [--out work_dirs/demo] [--task digits|pairs]``.
The logic is :mod:`snl_plugins.demo`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository, before site-packages
from snl_plugins.demo import main  # noqa: E402

if __name__ == '__main__':
    main()
