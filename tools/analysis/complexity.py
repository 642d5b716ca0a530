#!/usr/bin/env python
"""Complexity: ``python tools/analysis/complexity.py [--channels 64 --size 32 32] [--models all | NAME ...]
[--configs CONFIG ...] [--input-shape C H W | C T H W | T C H W] [--out-dir DIR]``: params and FLOPs with mmengine's
counter as markdown tables (analytic counts beside where the counter cannot see an op), plus PNG and JSON. The logic
is :mod:`snl_plugins.analysis.complexity`."""
from snl_plugins.analysis.complexity import main

if __name__ == '__main__':
    main()
