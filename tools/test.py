#!/usr/bin/env python
"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out preds.pkl]
[--cfg-options k=v ...] [--launcher none|pytorch]``. The logic is :mod:`snl_plugins.apis`."""
import snl_plugins  # noqa: F401  (registers our blocks/models and applies upstream workarounds)
from snl_plugins.apis import test


def main():
    test()


if __name__ == '__main__':
    main()
