"""Checkpoint trust policy: what a local checkpoint may unpickle, and which files the user trusts with more.

Unpickling a file can run arbitrary code, so what is loaded how is decided deliberately. :func:`load_from_local`
(mmengine's local loader, as :mod:`.mmengine_checkpoint` registers it):

1. Every local checkpoint is first loaded with ``weights_only=True`` plus a narrow allow-list
   (:func:`checkpoint_safe_globals`): ``HistoryBuffer``; numpy's array/scalar reconstructors, ``ndarray``, ``dtype``
   and the dtype classes of ``numpy.dtypes``; and, under the pickled name ``builtins.getattr``, a restricted
   ``getattr`` that only resolves public attributes of ``HistoryBuffer`` (numpy is not the user of ``getattr``: the
   buffer's ``_statistics_methods`` dict pickles the functions ``HistoryBuffer.min`` etc. as
   ``getattr(HistoryBuffer, 'min')``; a general ``getattr`` would be a gadget for arbitrary calls). None of these can
   run code. Every checkpoint mmengine's Runner writes loads this way, wherever it comes from.
2. Only if that fails (the file references something else) is the file fully unpickled, and only on an explicit
   opt-in that names the file or a folder holding it (after resolving symlinks): :func:`trusted_checkpoints`, the
   ``--trust-checkpoint PATH`` option of ``tools/train.py`` / ``tools/test.py``, or the environment variable
   ``SNL_TRUST_CHECKPOINTS`` (:data:`TRUST_ENV`), an ``os.pathsep``-separated list of files and folders. Nothing
   is trusted by where it lies: a run's ``work_dir`` is an output folder that downloads are dropped into, and every
   checkpoint mmengine's Runner writes loads by step 1 anyway. ``SNL_TRUST_CHECKPOINTS=1`` names nothing and
   trusts nothing (it once trusted every file). Otherwise :class:`UntrustedCheckpointError` (an
   ``UnpicklingError``) is raised; it names the file, the objects outside the allow-list and how to opt in.

Remote schemes (``http://``, ``torchvision://``, ...) are not changed: they keep torch's safe default.

This policy is part of the ``mmengine-checkpoint-loader`` workaround (:mod:`.mmengine_checkpoint`) and goes with it.
"""
import contextlib
import contextvars
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Optional

__all__ = ['TRUST_ENV', 'DamagedCheckpointError', 'UntrustedCheckpointError', 'checkpoint_safe_globals',
           'load_from_local', 'trusted_checkpoints']

TRUST_ENV = 'SNL_TRUST_CHECKPOINTS'


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs full unpickling (it can run code) and nothing says the user trusts it."""


class DamagedCheckpointError(RuntimeError):
    """A checkpoint file that cannot be read as one: truncated or corrupted (torch names no file)."""


_trusted_dirs: contextvars.ContextVar = contextvars.ContextVar('snl_trusted_checkpoint_dirs', default=())


def _real(path: str) -> str:
    return osp.realpath(osp.abspath(osp.expanduser(path)))


@contextlib.contextmanager
def trusted_checkpoints(*dirs: str):
    """Within this context, the checkpoint files in ``dirs``, and those inside the folders in it, may be fully
    unpickled if the safe load fails."""
    token = _trusted_dirs.set(_trusted_dirs.get() + tuple(_real(d) for d in dirs))
    try:
        yield
    finally:
        _trusted_dirs.reset(token)


_NAMES_NOTHING = ('1', 'true', 'yes', 'all', 'y', 'on')


def _trust_reason(filename: str) -> Optional[str]:
    """Why ``filename`` may be fully unpickled (an opt-in naming it or its folder), or None if it may not."""
    entries = [(d, 'trusted_checkpoints / --trust-checkpoint') for d in _trusted_dirs.get()]
    env = os.environ.get(TRUST_ENV, '').strip()
    entries += [(_real(d), TRUST_ENV) for d in env.split(os.pathsep)
                if d and d.strip().lower() not in _NAMES_NOTHING + ('0', 'false', 'no', 'off')]
    path = _real(filename)
    for entry, why in entries:
        if osp.commonpath([entry, path]) == entry:
            return f'{"it is" if entry == path else "inside"} {entry} ({why})'
    return None


def _restricted_getattr(obj, name: str):
    """``getattr`` for unpickling: only public attributes of ``HistoryBuffer`` (its statistics methods)."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str) and not name.startswith('_'):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a weights-only checkpoint load')


def checkpoint_safe_globals() -> list:
    """The allow-list for ``torch.serialization.safe_globals`` that mmengine checkpoints need. None runs code."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed = [HistoryBuffer, np.ndarray, np.dtype, (_restricted_getattr, 'builtins.getattr')]
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):  # numpy 2 and numpy 1 pickles
        allowed += [(multiarray._reconstruct, f'{mod}._reconstruct'), (multiarray.scalar, f'{mod}.scalar')]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25: the type of each dtype instance (BUILD needs it)
    if dtypes is not None:
        allowed += [c for c in vars(dtypes).values() if isinstance(c, type) and issubclass(c, np.dtype)]
    return allowed


def _unsafe_globals(filename: str) -> str:
    import torch
    try:
        from torch.serialization import get_unsafe_globals_in_checkpoint
        allowed = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
                   for g in checkpoint_safe_globals()}
        names = [n for n in get_unsafe_globals_in_checkpoint(filename) if n not in allowed]
        return ', '.join(names) or 'see the error below'
    except Exception:  # noqa: BLE001 - only for the message
        return f'see the error below (torch {torch.__version__})'


def _unpickler_reason(err: Exception) -> str:
    """The specific part of torch's weights-only error (its generic advice to pass weights_only=False is dropped)."""
    text = str(err)
    match = re.search(r'WeightsUnpickler error:\s*(.*?)(?:\n\s*\n|$)', text, re.S)
    return 'torch: ' + (match.group(1).strip() if match else text)


def _damaged(filename: str, err: Exception) -> DamagedCheckpointError:
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return DamagedCheckpointError(
        f'checkpoint {filename} is damaged or incomplete ({os.path.getsize(filename)} bytes; torch: {reason}): a run '
        'killed while writing it in place leaves such a file. Resume from an earlier checkpoint (SafeCheckpointHook, '
        'which our configs use, never leaves one).')


def _names_nothing_hint() -> str:
    env = os.environ.get(TRUST_ENV, '').strip()
    if env.lower() in _NAMES_NOTHING:
        return f' ({TRUST_ENV}={env} names no file or folder, so it trusts nothing.)'
    return ''


def load_from_local(filename: str, map_location=None):
    """mmengine's ``load_from_local`` with the trust policy of this module's docstring."""
    import torch
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:  # "failed finding central directory", ...
        if isinstance(err, RuntimeError) and 'PytorchStreamReader' not in str(err) and zipfile.is_zipfile(filename):
            raise  # a whole file torch cannot map (e.g. CUDA storages without CUDA): not damage
        raise _damaged(filename, err) from err
    except pickle.UnpicklingError as err:
        if not zipfile.is_zipfile(filename) and 'global' not in str(err).lower():  # not a pickle of objects at all
            raise _damaged(filename, err) from err
        reason = _trust_reason(filename)
        if reason is None:
            raise UntrustedCheckpointError(
                f'Refusing to fully unpickle checkpoint {filename}: it references objects outside the allow-list '
                f'of what mmengine checkpoints need ({_unsafe_globals(filename)}), and unpickling them can run '
                f'arbitrary code. A file is fully unpickled only where the user names it or its folder: if you trust '
                f'this file, pass --trust-checkpoint {filename} to tools/train.py / tools/test.py, set '
                f'{TRUST_ENV}={filename} (files and folders, {os.pathsep}-separated), or load it within '
                f'snl_plugins.compat.trusted_checkpoints({filename!r}).{_names_nothing_hint()}\n'
                f'{_unpickler_reason(err)}') from err
        from mmengine.logging import print_log
        print_log(f'Checkpoint {filename} is not weights-only loadable; fully unpickling it because it is trusted: '
                  f'{reason}.', logger='current')
        return torch.load(filename, map_location=map_location, weights_only=False)
