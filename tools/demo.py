#!/usr/bin/env python
"""``make demo``: a plain network and the same network with non-local blocks, trained and tested through
``tools/train.py`` / ``tools/test.py`` for every seed; prints the comparison and writes the pictures (docs/demo.md).
``python tools/demo.py [--task scenes|digits|video] [--seeds 0 1 2] [--models plain snl] [--out DIR]``; the default
task is the digit scenes (segmentation: a blank box takes the class of the digit that appears twice).
The logic is :mod:`snl_plugins.demos`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository, before site-packages
from snl_plugins.demos.harness import main  # noqa: E402

if __name__ == '__main__':
    main()
