"""``mmengine-checkpoint-loader``: mmengine 0.10.7 cannot load its own checkpoints under torch >= 2.6.

Upstream: https://github.com/open-mmlab/mmengine/issues/1655, fix PR https://github.com/open-mmlab/mmengine/pull/1650
(unmerged as of mmengine 0.10.7). Under torch >= 2.6 ``torch.load`` defaults to ``weights_only=True`` and mmengine's
``load_from_local`` (used by resume, ``load_from`` and ``tools/test.py``) does not pass ``weights_only``: every
checkpoint its Runner saves holds ``mmengine.logging.HistoryBuffer`` and numpy objects and fails to load.

Workaround: :func:`~.checkpoint_trust.load_from_local` (with the trust policy of :mod:`.checkpoint_trust`) is
registered as mmengine's local loader, for the prefix ``''`` with ``CheckpointLoader.register_scheme(force=True)``.
``mmengine.runner`` costs ~1 s to import, so if it is not imported yet the patch waits for its import (an import hook
on ``mmengine.runner``, removed once it fired). Applied only where torch defaults to weights-only loading and
mmengine's source lacks ``weights_only``. Where ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set (the workaround users
find for the defect), torch fully unpickles every file whatever its caller asks: that is warned about
(:class:`UnsafeCheckpointLoading`), as nothing here can make loading safe then.

Remove when the supported mmengine passes ``weights_only`` in ``load_from_local``
(:func:`mmengine_loader_lacks_weights_only` already leaves such an install alone); :mod:`.checkpoint_trust` goes
with it.
"""
import os
import os.path as osp
import re
import sys
import warnings
from typing import Optional

from ._imports import _package_dir, _PostImportHook, _read
from .checkpoint_trust import load_from_local

NAME = 'mmengine-checkpoint-loader'
FORCE_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


def _forced_full_unpickling() -> bool:
    """torch's own opt-out is set (it then fully unpickles every file, as mmengine expects)."""
    return os.environ.get(FORCE_ENV, '0').lower() in ('1', 'y', 'yes', 'true')


def _torch_defaults_to_weights_only() -> bool:
    import torch
    version = re.match(r'(\d+)\.(\d+)', torch.__version__)
    if version is None or tuple(map(int, version.groups())) < (2, 6):
        return False
    return not _forced_full_unpickling()


def mmengine_loader_lacks_weights_only(mmengine_dir: Optional[str] = None) -> bool:
    """Whether mmengine's ``load_from_local`` calls ``torch.load`` without ``weights_only`` (read on disk)."""
    mmengine_dir = mmengine_dir or _package_dir('mmengine')
    if mmengine_dir is None:
        return False
    source = _read(osp.join(mmengine_dir, 'runner', 'checkpoint.py'))
    if source is None:
        return False
    body = re.search(r'^def load_from_local\(.*?(?=^\S)', source, re.M | re.S)
    return body is not None and 'torch.load(' in body.group(0) and 'weights_only' not in body.group(0)


class UnsafeCheckpointLoading(RuntimeWarning):
    """``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set: every checkpoint is fully unpickled, which can run code."""


def _patch_mmengine_runner() -> None:
    from mmengine.runner import checkpoint
    checkpoint.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


def warn_if_forced_unsafe() -> bool:
    """Warn (once per process) where torch's force variable makes every checkpoint load unsafe; True if so."""
    if not _forced_full_unpickling():
        return False
    warnings.warn(f'{FORCE_ENV}={os.environ[FORCE_ENV]} is set: torch fully unpickles every checkpoint, which runs '
                  'any code a downloaded file holds, and no trust policy can stop it. snl_plugins loads mmengine '
                  f'checkpoints without it: unset {FORCE_ENV}.', UnsafeCheckpointLoading, stacklevel=2)
    return True


def apply() -> bool:
    """Register the loader now if ``mmengine.runner`` is imported, else when it is; False if no defect."""
    warn_if_forced_unsafe()
    if not (_torch_defaults_to_weights_only() and mmengine_loader_lacks_weights_only()):
        return False
    runner = sys.modules.get('mmengine.runner')
    if runner is not None and hasattr(runner, 'Runner'):
        _patch_mmengine_runner()
    elif not any(isinstance(f, _PostImportHook) and f.name == 'mmengine.runner' for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportHook('mmengine.runner', _patch_mmengine_runner))
    return True
