#!/usr/bin/env python
"""Train with an mmengine config: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
[--cfg-options k=v ...] [--launcher none|pytorch]``; distributed: ``torchrun --nproc_per_node=N tools/train.py CONFIG
--launcher pytorch``. Serves classification, mmaction2 and mmseg configs alike (scope from the config's
``default_scope``). The logic is :mod:`snl_plugins.apis`."""
import snl_plugins  # noqa: F401  (registers our blocks/models and applies upstream workarounds)
from snl_plugins.apis import train


def main():
    train()


if __name__ == '__main__':
    main()
