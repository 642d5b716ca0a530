"""Run at interpreter start-up by the ``.pth`` file that ``python -m snl_plugins.mmseg.startup install`` writes.

Standard library only, and it imports nothing else at start-up: it adds one finder to ``sys.meta_path`` that waits
for the first import of ``mmcv.ops`` (or ``mmcv.utils.ext_loader``). At that moment, and only if the installed mmcv
has no compiled ``mmcv._ext`` (mmcv-lite), it puts snl_plugins' placeholder ``mmcv._ext`` in place (the same code as
``snl_plugins.compat``, loaded from its file without importing the ``snl_plugins`` package), so that
``mmseg.utils.register_all_modules()`` works before any config is read, as mmsegmentation's own ``tools/train.py``
needs. With a full mmcv it does nothing. The finder removes itself after it fired.
"""
import os.path as _osp
import sys as _sys

_TRIGGERS = ('mmcv.ops', 'mmcv.utils.ext_loader')
_COMPAT = _osp.join(_osp.dirname(_osp.dirname(_osp.abspath(__file__))), 'compat.py')


def _load_compat():
    """``snl_plugins.compat`` if already imported, else its file executed as a private module."""
    compat = _sys.modules.get('snl_plugins.compat')
    if compat is not None:
        return compat
    import importlib.util
    spec = importlib.util.spec_from_file_location('_snl_plugins_startup_compat', _COMPAT)
    compat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compat)
    return compat


class MmcvLiteFinder:
    """Meta-path finder that finds nothing; on the first look-up of a trigger it applies the placeholder."""

    fired = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _TRIGGERS and not self.fired:
            self.fired = True
            try:
                _sys.meta_path.remove(self)
            except ValueError:
                pass
            if 'mmcv._ext' not in _sys.modules and _osp.isfile(_COMPAT):
                _load_compat()._apply_mmcv_ext()
        return None


def install():
    if not any(type(f).__name__ == 'MmcvLiteFinder' for f in _sys.meta_path):
        _sys.meta_path.insert(0, MmcvLiteFinder())  # first: it must see the look-up, and never finds anything
