#!/usr/bin/env python
"""Export to ONNX and check with ONNX Runtime: ``python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out
model.onnx [--shape ...] [--dynamic-batch] [--dynamic-shape] [--block-path config|auto|dense|factorised]`` or
``python tools/deploy/export_onnx.py --timm resnet50_snl [--checkpoint FILE] --out model.onnx`` (``--help`` for the
rest; docs/deploy.md). The logic is :mod:`snl_plugins.deploy`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # a clean clone runs without being installed

from snl_plugins.deploy.cli import export_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(export_main())
