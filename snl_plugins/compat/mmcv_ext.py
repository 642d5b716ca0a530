"""``mmcv-ext-placeholder``: mmcv-lite has no compiled ``mmcv._ext``, but ``mmseg.models`` imports ``mmcv.ops``.

Upstream: mmcv-lite is pure Python by design (https://github.com/open-mmlab/mmcv, "mmcv-lite"); the module-level
imports of ``mmcv.ops`` are mmsegmentation's (e.g. ``mmseg/models/decode_heads/san_head.py``,
``losses/focal_loss.py``), so ``import mmseg.models`` fails with ``No module named 'mmcv._ext'``.

Workaround: a placeholder ``mmcv._ext`` is put in ``sys.modules``: every op looked up on it is a function that raises
:class:`MmcvOpsUnavailableError` naming the op and how to get full mmcv; no op ever fails silently. Its ``__spec__``
has no loader, so ``pkgutil.find_loader('mmcv._ext')`` (mmengine's ``mmcv_full_available()``, mmcv's
``check_ops_exist()``) answers truthfully "no compiled ops" instead of raising ``ValueError: mmcv._ext.__spec__ is
None``, and mmengine takes its pure-PyTorch paths. A full mmcv is left untouched.

It is applied on ``import snl_plugins`` (:func:`snl_plugins.compat.apply`), or, for mmsegmentation's own tools (which
import ``mmcv.ops`` before any config's ``custom_imports``), by the start-up hook of :mod:`.startup`: its ``.pth``
loads this module and :mod:`._imports` from their files under their own names, ``snl_plugins.compat.mmcv_ext`` and
``snl_plugins.compat._imports``, without importing the ``snl_plugins`` package, and calls :func:`install_hook`.
``import snl_plugins`` later finds these very modules in ``sys.modules``, so there is one
:class:`MmcvOpsUnavailableError` and :func:`snl_plugins.compat.applied` lists what the hook applied. Hence this module
(and :mod:`._imports`) use the standard library only, import nothing at start-up that ``site`` has not, and import no
other part of ``snl_plugins``.

Remove when mmsegmentation imports ``mmcv.ops`` lazily or the project requires full mmcv (and then :mod:`.startup`).
"""
from __future__ import annotations

import importlib.machinery
import sys
import types

from ._imports import _has_module_file, _package_dir

NAME = 'mmcv-ext-placeholder'
FULL_MMCV_HINT = ('install full mmcv with compiled ops instead of mmcv-lite: '
                  '`pip uninstall mmcv-lite && pip install mmcv==2.1.0` (built from source with CPU ops, which needs '
                  'a C++20 compiler with torch >= 2.10; see docs / the project README). Never install both.')
# The first import of either means the compiled ops are about to be loaded (mmcv.ops -> ext_loader.load_ext).
_TRIGGERS = ('mmcv.ops', 'mmcv.utils.ext_loader')
_applied = False  # this module put its placeholder in place (on import snl_plugins or by the start-up hook)


class MmcvOpsUnavailableError(RuntimeError):
    """A compiled mmcv op was called, but this mmcv (mmcv-lite) has none."""


def mmcv_ext_missing(mmcv_dir: str | None = None) -> bool:
    """Whether mmcv is installed without its compiled ``_ext`` (checked on disk, no import)."""
    mmcv_dir = mmcv_dir or _package_dir('mmcv')
    return mmcv_dir is not None and not _has_module_file(mmcv_dir, '_ext')


def _mmcv_description() -> str:
    from importlib import metadata
    for dist in ('mmcv-lite', 'mmcv'):
        try:
            return f'{dist} {metadata.version(dist)}'
        except metadata.PackageNotFoundError:
            continue
    return 'mmcv'


class _MissingExtModule(types.ModuleType):
    """``mmcv._ext`` stand-in: every op it is asked for raises :class:`MmcvOpsUnavailableError` when called."""

    def __getattr__(self, name: str):
        if name.startswith('__'):  # keep introspection (pickle, inspect, doctest, copy) honest
            raise AttributeError(name)

        def missing_op(*args, **kwargs):
            raise MmcvOpsUnavailableError(
                f"mmcv op '{name}' needs mmcv's compiled extension mmcv._ext, which this install "
                f'({_mmcv_description()}) does not have. snl_plugins put a placeholder mmcv._ext in place so that '
                f'pure-Python OpenMMLab models (mmseg.models, mmaction.models) import; this model calls a compiled '
                f'op. To run it, {FULL_MMCV_HINT}')

        missing_op.__name__ = missing_op.__qualname__ = name
        missing_op.__module__ = 'mmcv._ext'
        return missing_op


def apply() -> bool:
    """Put the placeholder ``mmcv._ext`` in place if mmcv has no compiled ops and none is imported yet.

    Returns whether this module's placeholder is in place (put there now or earlier, e.g. by the start-up hook)."""
    global _applied
    if not _applied and 'mmcv._ext' not in sys.modules and mmcv_ext_missing():
        module = _MissingExtModule('mmcv._ext', 'Placeholder for the compiled ops mmcv-lite lacks (snl_plugins).')
        # A spec without a loader: find_spec()/pkgutil.find_loader() work and report "no compiled ops" (None).
        module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
        module.__package__ = 'mmcv'
        module.__snl_placeholder__ = True
        sys.modules['mmcv._ext'] = module
        _applied = True
    return _applied


class MmcvLiteFinder:
    """Meta-path finder of the start-up hook; it finds nothing. On the first look-up of ``mmcv.ops`` (or
    ``mmcv.utils.ext_loader``) it removes itself and applies the placeholder (:func:`apply`: only where needed)."""

    fired = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _TRIGGERS and not self.fired:
            self.fired = True
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
            apply()
        return None

    def invalidate_caches(self):
        pass


def install_hook() -> None:
    """Put a :class:`MmcvLiteFinder` first on ``sys.meta_path`` (once; what the start-up ``.pth`` calls)."""
    if not any(type(f).__name__ == 'MmcvLiteFinder' for f in sys.meta_path):
        sys.meta_path.insert(0, MmcvLiteFinder())  # first: it must see the look-up, and never finds anything
