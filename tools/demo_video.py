#!/usr/bin/env python
"""``make demo-video``: I3D plain vs + SNL on a "moving digits" action data set (real video files in the UCF-101
layout, decoded by mmaction2's decord pipeline) through ``tools/train.py`` / ``tools/test.py``; prints a table and saves
learning curves. ``python tools/demo_video.py [--seeds 0 1] [--epochs 6] [--out work_dirs/demo_video]``.
The logic is :mod:`snl_plugins.mmaction.demo`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository, before site-packages
from snl_plugins.mmaction.demo import main  # noqa: E402

if __name__ == '__main__':
    main()
