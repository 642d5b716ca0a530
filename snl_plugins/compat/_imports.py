"""Import machinery shared by the workarounds: finding installed packages without importing them, and running a
patch right after a module is first imported.

Standard library only, and cheap: the start-up hook (:mod:`.startup`) loads this module at every interpreter start,
before and without the ``snl_plugins`` package, so it imports neither ``typing`` nor ``importlib.abc`` (~12 ms).
"""
from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import os.path as osp
import sys


def _package_dir(name: str) -> str | None:
    """Directory of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _has_module_file(directory: str, name: str) -> bool:
    """Whether ``directory`` holds a module or package ``name`` (source, bytecode or extension)."""
    if osp.isfile(osp.join(directory, name, '__init__.py')):
        return True
    return any(osp.isfile(osp.join(directory, name + suffix)) for suffix in importlib.machinery.all_suffixes())


def _read(path: str) -> str | None:
    """A source file of an installed package, or None if it cannot be read."""
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except OSError:
        return None


class _PostImportHook:
    """Meta-path finder that runs ``callback`` right after module ``name`` is first executed (then removes itself).

    It finds ``name`` with the finders after it and wraps the loader; every other look-up falls through."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec.loader = _CallbackLoader(spec.loader, self.callback)
        return spec

    def invalidate_caches(self):
        pass


class _CallbackLoader:
    """Loader that executes the module with the real loader, then calls the callback."""

    def __init__(self, loader, callback):
        self._loader, self._callback = loader, callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._callback()

    def __getattr__(self, name):  # get_source, get_data, is_package, ... of the real loader
        return getattr(self._loader, name)
