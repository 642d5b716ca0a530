"""What ``tools/train.py`` and ``tools/test.py`` run (OpenMMLab keeps such logic under ``apis``): argument parsing,
the config a run uses, the scope, and ``train`` / ``test`` through mmengine's ``Runner``."""
from .train_test import (AMP_DTYPES, LAUNCHERS, parse_test_args, parse_train_args, prepare_launcher, setup_scope,
                         test, test_cfg_from_args, train, train_cfg_from_args)

__all__ = ['AMP_DTYPES', 'LAUNCHERS', 'parse_test_args', 'parse_train_args', 'prepare_launcher', 'setup_scope', 'test',
           'test_cfg_from_args', 'train', 'train_cfg_from_args']
