"""``mmaction-drn-placeholder``: mmaction2 1.2.0 as published lacks ``mmaction.models.localizers.drn``.

Upstream: https://github.com/open-mmlab/mmaction2/issues/2714 (the wheel and sdist of 1.2.0 lack the package that
``mmaction/models/localizers/__init__.py`` imports, so ``import mmaction.models`` fails).

Workaround: placeholder modules ``...localizers.drn`` and ``...localizers.drn.drn`` are put in ``sys.modules`` before
``mmaction.models`` is imported; their ``DRN`` is a class that raises a clear error when instantiated. Every other
mmaction model is untouched.

Remove when the supported mmaction2 ships ``mmaction/models/localizers/drn/`` (:func:`mmaction_drn_missing` already
leaves such an install alone).
"""
import importlib.machinery
import os.path as osp
import re
import sys
import types
from typing import Optional

from ._imports import _has_module_file, _package_dir, _read

NAME = 'mmaction-drn-placeholder'
_DRN = 'mmaction.models.localizers.drn'


def mmaction_drn_missing(mmaction_dir: Optional[str] = None) -> bool:
    """Whether the installed mmaction imports ``localizers.drn`` but lacks it (checked on disk, no import)."""
    mmaction_dir = mmaction_dir or _package_dir('mmaction')
    if mmaction_dir is None:
        return False
    localizers = osp.join(mmaction_dir, 'models', 'localizers')
    init = _read(osp.join(localizers, '__init__.py'))
    if init is None:
        return False
    return re.search(r'^\s*from\s+\.drn\b', init, re.M) is not None and not _has_module_file(localizers, 'drn')


class DRN:
    """Placeholder for mmaction2's DRN localizer, whose code mmaction2 1.2.0 does not ship."""

    def __init__(self, *args, **kwargs):
        raise ImportError('mmaction2 1.2.0 as published lacks mmaction.models.localizers.drn '
                          '(open-mmlab/mmaction2#2714); snl_plugins registered a placeholder so that the other '
                          'mmaction models import. DRN itself is unavailable: install an mmaction2 that ships it.')


def _placeholder_module(name: str, package: bool) -> types.ModuleType:
    module = types.ModuleType(name, f'Placeholder registered by snl_plugins.compat for {name}.')
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=package)
    if package:
        module.__path__ = []
        module.__spec__.submodule_search_locations = []
    module.__package__ = name if package else name.rpartition('.')[0]
    module.__snl_placeholder__ = True
    return module


def apply() -> bool:
    """Put the placeholders in place if the defect is present and ``mmaction.models`` is not imported yet."""
    if _DRN in sys.modules or 'mmaction.models' in sys.modules or not mmaction_drn_missing():
        return False
    pkg = _placeholder_module(_DRN, package=True)
    mod = _placeholder_module(_DRN + '.drn', package=False)
    mod.DRN = DRN
    pkg.drn = mod
    sys.modules[_DRN] = pkg
    sys.modules[_DRN + '.drn'] = mod
    return True
