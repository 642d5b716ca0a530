#!/usr/bin/env python
"""``make demo-seg``: DeepLabV3-R18 plain and + SNL on VOC-layout scenes of scikit-learn's digits, trained with
``tools/train.py`` and evaluated with ``tools/test.py``; prints aAcc / mIoU / mAcc / fwIoU side by side and saves a
PNG of predictions. ``python tools/demo_seg.py [--out work_dirs/demo_seg] [--iters N] [--n-train N] [--n-val N]``.
The logic is :mod:`snl_plugins.mmseg.demo`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository, before site-packages
from snl_plugins.mmseg.demo import main  # noqa: E402

if __name__ == '__main__':
    main()
