"""Install-level defects of the upstream stack: reported by :func:`check_install`, not patched.

- mmaction2 1.2.0 imports ``importlib_metadata`` (``mmaction/utils/dependency.py``) without declaring it: install it
  (the ``[video]`` extra does). Remove the check when mmaction2 declares it.
- setuptools >= 81 has no ``pkg_resources``, which mmengine 0.10.7's ``is_installed()`` still imports
  (``Config.fromfile`` resolving ``mmseg::`` / ``mmaction::`` bases): install ``setuptools<81`` (see
  requirements/constraints.txt). Remove the check when mmengine uses ``importlib.metadata``.

Not checked at import: users who never load such configs need neither, and ``custom_imports`` runs too late to help.
"""
import importlib.util
import os.path as osp
from typing import List

from ._imports import _package_dir, _read

__all__ = ['check_install']


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_install(raise_error: bool = False) -> List[str]:
    """Install-level problems of the stack (cheap: nothing is imported). Raises ``RuntimeError`` if asked to."""
    problems = []
    mmengine_dir = _package_dir('mmengine')
    if mmengine_dir is not None and not _findable('pkg_resources'):
        source = _read(osp.join(mmengine_dir, 'utils', 'package_utils.py'))
        if source is not None and 'import pkg_resources' in source:
            problems.append("mmengine's Config.fromfile needs pkg_resources to resolve 'mmseg::' / 'mmaction::' "
                            'config bases, and this setuptools has none (setuptools >= 81 dropped it): '
                            "pip install 'setuptools<81'")
    if _package_dir('mmaction') is not None and not _findable('importlib_metadata'):
        problems.append('mmaction2 imports importlib_metadata without declaring it: pip install importlib_metadata '
                        "(the [video] extra of snl_plugins does)")
    if problems and raise_error:
        raise RuntimeError('The installed OpenMMLab stack is incomplete:\n- ' + '\n- '.join(problems))
    return problems
