#!/usr/bin/env python
"""The 10-split protocol of iLIDS-VID / PRID2011 from one command: ``python tools/reid_splits.py CONFIG
[--splits 0-9] [--work-dir DIR] [--checkpoint last|best] [--resume] [--nproc-per-node N] [--cfg-options k=v ...]``
trains (``tools/train.py``) and tests (``tools/test.py``) every split in ``DIR/split<N>`` and writes the CMC / mAP
averaged over the splits to ``DIR/splits_summary.{md,json}``. The logic is :mod:`snl_plugins.reid.splits`."""
from pathlib import Path

from snl_plugins.reid.splits import main

if __name__ == '__main__':
    here = Path(__file__).resolve().parent
    main(train_script=str(here / 'train.py'), test_script=str(here / 'test.py'))
