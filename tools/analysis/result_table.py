#!/usr/bin/env python
"""Result tables: ``python tools/analysis/result_table.py WORK_DIR [WORK_DIR ...] [--paper 2] [--source auto]
[--out-dir DIR]``: the metrics of each work dir in the paper's layout, the paper's numbers beside ours with
``--paper``, as markdown, JSON and PNG. The logic is :mod:`snl_plugins.analysis.tables`."""
from snl_plugins.analysis.tables import main

if __name__ == '__main__':
    main()
