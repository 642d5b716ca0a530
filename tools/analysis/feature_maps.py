#!/usr/bin/env python
"""Feature / attention maps (Fig. 4): ``python tools/analysis/feature_maps.py --model CONFIG CHECKPOINT [--model ...]
[--indices 0 1 2 3 | --images a.jpg b.jpg | --videos clip.mp4 frames_dir/] [--frames 0 7] [--query [T] Y X]
[--out-dir DIR]``: block output response overlaid on the input and the affinity row of a query as a heat map, per
image or per chosen video frame, PNG and JSON. The logic is :mod:`snl_plugins.analysis.maps`."""
from snl_plugins.analysis.maps import main

if __name__ == '__main__':
    main()
