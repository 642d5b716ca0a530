"""Workarounds for defects of the upstream stack, all in one place.

:func:`apply` is called when :mod:`snl_plugins` is imported (OpenMMLab's own ``tools/train.py`` /
``tools/test.py`` import us through ``custom_imports=dict(imports=['snl_plugins'])``). It is idempotent and
cheap: it only looks at files on disk (``importlib.util.find_spec`` of a top-level name imports nothing) and
imports no host library that is not imported already. Each workaround is applied only when its defect is
present, so a full mmcv, a fixed mmaction2 or a fixed mmengine are left untouched. :func:`applied` lists what
was applied (for logs and tests); :func:`check_install` reports install-level problems that code cannot fix.

The workarounds (each names its upstream issue and when it can go, next to the code):

``mmaction-drn-placeholder``
    mmaction2 1.2.0 as published lacks the package ``mmaction.models.localizers.drn`` that
    ``mmaction/models/localizers/__init__.py`` imports, so ``import mmaction.models`` fails. Placeholder modules
    ``...localizers.drn`` and ``...localizers.drn.drn`` are put in ``sys.modules``; their ``DRN`` is a class that
    raises a clear error when instantiated. Every other mmaction model is untouched.

``mmcv-ext-placeholder``
    mmcv-lite has no compiled ``mmcv._ext``, and ``import mmseg.models`` imports ``mmcv.ops`` at module level.
    A placeholder ``mmcv._ext`` is put in ``sys.modules``: every op looked up on it is a function that raises
    :class:`MmcvOpsUnavailableError` naming the op and how to get full mmcv; no op ever fails silently. Its
    ``__spec__`` has no loader, so ``pkgutil.find_loader('mmcv._ext')`` (mmengine's ``mmcv_full_available()``,
    mmcv's ``check_ops_exist()``) answers truthfully "no compiled ops" instead of raising
    ``ValueError: mmcv._ext.__spec__ is None``, and mmengine takes its pure-PyTorch paths.

``mmengine-checkpoint-loader``
    Under torch >= 2.6 ``torch.load`` defaults to ``weights_only=True`` and mmengine 0.10.7's ``load_from_local``
    (used by resume, ``load_from`` and ``tools/test.py``) does not pass ``weights_only``: every checkpoint its
    Runner saves holds ``mmengine.logging.HistoryBuffer`` and numpy objects and fails to load. A replacement local
    loader is registered for the prefix ``''`` with ``CheckpointLoader.register_scheme(force=True)``.

    Trust policy. Unpickling a file can run arbitrary code, so what is loaded how is decided deliberately:

    1. Every local checkpoint is first loaded with ``weights_only=True`` plus a narrow allow-list
       (:func:`checkpoint_safe_globals`): ``HistoryBuffer``; numpy's array/scalar reconstructors, ``ndarray``,
       ``dtype`` and the dtype classes of ``numpy.dtypes``; and, under the pickled name ``builtins.getattr``, a
       restricted ``getattr`` that only resolves public attributes of ``HistoryBuffer`` (numpy is not the user of
       ``getattr``: the buffer's ``_statistics_methods`` dict pickles the functions ``HistoryBuffer.min`` etc. as
       ``getattr(HistoryBuffer, 'min')``; a general ``getattr`` would be a gadget for arbitrary calls). None of
       these can run code. Every checkpoint mmengine's Runner writes loads this way, wherever it comes from.
    2. Only if that fails (the file references something else) is the file fully unpickled, and only when the
       user trusts it: the file lies (after resolving symlinks) inside the ``work_dir`` of the Runner that loads
       it (a run's own checkpoints: resume, and ``tools/test.py`` of a checkpoint the same config trained), or
       inside a directory given by :func:`trusted_checkpoints`, or the environment variable
       ``SNL_TRUST_CHECKPOINTS`` is ``1`` (trust every local file) or an ``os.pathsep``-separated list of
       directories to trust. Otherwise :class:`UntrustedCheckpointError` (an ``UnpicklingError``) is raised; it
       names the objects outside the allow-list and how to opt in. A downloaded checkpoint is never fully
       unpickled without an explicit opt-in.

    Remote schemes (``http://``, ``torchvision://``, ...) are not changed: they keep torch's safe default.
    ``mmengine.runner`` costs ~1 s to import, so if it is not imported yet the patch waits for its import (an
    import hook on ``mmengine.runner``, removed once it fired); ``Runner``/``FlexibleRunner`` ``load_checkpoint``
    and ``resume`` are wrapped only to make their ``work_dir`` known to the loader while they run.

``mmaction-head-bfloat16-scores``
    mmaction2 1.2.0's ``BaseHead.loss_by_feat`` computes top-k accuracy from ``cls_scores.detach().cpu().numpy()``,
    which fails for bfloat16 scores (numpy has no bfloat16), so no recognizer trains under bfloat16 autocast (our
    ``tools/train.py --amp`` on CPU). ``loss_by_feat`` is wrapped to take bfloat16 scores in float32 (autocast
    computes the loss in float32 anyway), when ``mmaction.models.heads.base`` is imported. Applied while the source
    still calls ``.numpy()`` on the scores (no upstream issue found); it can go when mmaction2 converts them first.

Avoided rather than patched (so listed here, where every workaround is looked for):

``FlowAwareFlip`` (:mod:`snl_plugins.mmaction.rgb_flow`)
    Since open-mmlab/mmaction2#2631 (in 1.2.0) ``RawFrameDecode`` returns each flow frame as one H x W x 2 (x, y)
    array, but ``Flip`` still inverts every other item of the frame list, as for the old interleaved x, y images:
    a flipped flow clip gets both channels inverted in frames 0, 2, 4, ... and nothing in the others. mmaction2's
    ``Flip`` is left alone (patching it would change other users' pipelines); our flow configs use
    ``FlowAwareFlip``, which inverts flow-x in every frame, and ``WithFlow`` refuses the plain ``Flip``. It can go
    once mmaction2's ``Flip`` handles stacked flow (not fixed as of 1.2.0; no upstream issue found).

Install-level defects, not patched but reported by :func:`check_install` (``raise_error=True`` raises a clear
error): mmaction2 imports ``importlib_metadata`` without declaring it (install it; the ``[video]`` extra does),
and setuptools >= 81 has no ``pkg_resources``, which mmengine 0.10.7's ``Config.fromfile`` needs to resolve
``mmseg::`` / ``mmaction::`` bases (install ``setuptools<81``, see requirements/constraints.txt). A check is not
run at import: users who never load such configs need neither, and ``custom_imports`` runs too late to help.
"""
import contextlib
import contextvars
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import os
import os.path as osp
import pickle
import re
import sys
import types
from typing import Callable, List, Optional, Tuple

__all__ = ['apply', 'applied', 'check_install', 'checkpoint_safe_globals', 'load_from_local',
           'MmcvOpsUnavailableError', 'trusted_checkpoints', 'UntrustedCheckpointError', 'TRUST_ENV']

TRUST_ENV = 'SNL_TRUST_CHECKPOINTS'

_applied: List[str] = []

FULL_MMCV_HINT = ('install full mmcv with compiled ops instead of mmcv-lite: '
                  '`pip uninstall mmcv-lite && pip install mmcv==2.1.0` (built from source with CPU ops, which needs '
                  'a C++20 compiler with torch >= 2.10; see docs / the project README). Never install both.')


def _package_dir(name: str) -> Optional[str]:
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


# ---------------------------------------------------------------------------------------------------------------
# 1. mmaction2 1.2.0: missing mmaction.models.localizers.drn
#    Upstream: https://github.com/open-mmlab/mmaction2/issues/2714 (the wheel and sdist of 1.2.0 lack the package).
#    Remove when the supported mmaction2 ships `mmaction/models/localizers/drn/` (detection already skips it then).
# ---------------------------------------------------------------------------------------------------------------
_DRN = 'mmaction.models.localizers.drn'


def mmaction_drn_missing(mmaction_dir: Optional[str] = None) -> bool:
    """Whether the installed mmaction imports ``localizers.drn`` but lacks it (checked on disk, no import)."""
    mmaction_dir = mmaction_dir or _package_dir('mmaction')
    if mmaction_dir is None:
        return False
    localizers = osp.join(mmaction_dir, 'models', 'localizers')
    try:
        with open(osp.join(localizers, '__init__.py'), encoding='utf-8') as f:
            init = f.read()
    except OSError:
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


def _apply_mmaction_drn() -> bool:
    if _DRN in sys.modules or 'mmaction.models' in sys.modules or not mmaction_drn_missing():
        return False
    pkg = _placeholder_module(_DRN, package=True)
    mod = _placeholder_module(_DRN + '.drn', package=False)
    mod.DRN = DRN
    pkg.drn = mod
    sys.modules[_DRN] = pkg
    sys.modules[_DRN + '.drn'] = mod
    return True


# ---------------------------------------------------------------------------------------------------------------
# 2. mmcv-lite: no compiled mmcv._ext, but mmseg.models (and others) import mmcv.ops at module level.
#    Upstream: mmcv-lite is pure Python by design (https://github.com/open-mmlab/mmcv, "mmcv-lite"); the module-level
#    imports are mmsegmentation's (e.g. mmseg/models/decode_heads/san_head.py, losses/focal_loss.py).
#    Remove when mmsegmentation imports mmcv.ops lazily or the project requires full mmcv.
# ---------------------------------------------------------------------------------------------------------------
class MmcvOpsUnavailableError(RuntimeError):
    """A compiled mmcv op was called, but this mmcv (mmcv-lite) has none."""


def mmcv_ext_missing(mmcv_dir: Optional[str] = None) -> bool:
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


def _apply_mmcv_ext() -> bool:
    if 'mmcv._ext' in sys.modules or not mmcv_ext_missing():
        return False
    module = _MissingExtModule('mmcv._ext', 'Placeholder for the compiled ops mmcv-lite lacks (snl_plugins.compat).')
    # A spec without a loader: find_spec()/pkgutil.find_loader() work and report "no compiled ops" (None).
    module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    module.__package__ = 'mmcv'
    module.__snl_placeholder__ = True
    sys.modules['mmcv._ext'] = module
    return True


# ---------------------------------------------------------------------------------------------------------------
# 3. mmengine 0.10.7 + torch >= 2.6: checkpoints fail to load (torch.load's weights_only default).
#    Upstream: https://github.com/open-mmlab/mmengine/issues/1655,
#    fix PR https://github.com/open-mmlab/mmengine/pull/1650 (unmerged as of mmengine 0.10.7).
#    Remove when the supported mmengine passes weights_only in load_from_local (detection already skips it then).
# ---------------------------------------------------------------------------------------------------------------
class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs full unpickling (it can run code) and nothing says the user trusts it."""


_trusted_dirs: contextvars.ContextVar = contextvars.ContextVar('snl_trusted_checkpoint_dirs', default=())


def _real(path: str) -> str:
    return osp.realpath(osp.abspath(osp.expanduser(path)))


@contextlib.contextmanager
def trusted_checkpoints(*dirs: str):
    """Within this context, checkpoints inside ``dirs`` may be fully unpickled if the safe load fails."""
    token = _trusted_dirs.set(_trusted_dirs.get() + tuple(_real(d) for d in dirs))
    try:
        yield
    finally:
        _trusted_dirs.reset(token)


def _trust_reason(filename: str) -> Optional[str]:
    """Why ``filename`` may be fully unpickled, or None if it may not."""
    env = os.environ.get(TRUST_ENV, '').strip()
    if env.lower() in ('1', 'true', 'yes', 'all'):
        return f'{TRUST_ENV}={env}'
    dirs = [(d, 'trusted by snl_plugins.compat.trusted_checkpoints / the work_dir of the Runner loading it')
            for d in _trusted_dirs.get()]
    if env and env.lower() not in ('0', 'false', 'no'):
        dirs += [(_real(d), f'{TRUST_ENV}') for d in env.split(os.pathsep) if d]
    path = _real(filename)
    for directory, why in dirs:
        if osp.commonpath([directory, path]) == directory:
            return f'inside {directory} ({why})'
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


def load_from_local(filename: str, map_location=None):
    """mmengine's ``load_from_local`` with the trust policy of this module's docstring."""
    import torch
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _trust_reason(filename)
        if reason is None:
            raise UntrustedCheckpointError(
                f'Refusing to fully unpickle checkpoint {filename}: it references objects outside the allow-list '
                f'of what mmengine checkpoints need ({_unsafe_globals(filename)}), and unpickling them can run '
                f'arbitrary code. Files are trusted only inside the work_dir of the Runner that loads them. If you '
                f'trust this file, set {TRUST_ENV}=1 (or {TRUST_ENV}=<dir>{os.pathsep}<dir> to trust directories), '
                f'or load it within snl_plugins.compat.trusted_checkpoints(<dir>).\n{_unpickler_reason(err)}'
            ) from err
        from mmengine.logging import print_log
        print_log(f'Checkpoint {filename} is not weights-only loadable; fully unpickling it because it is trusted: '
                  f'{reason}.', logger='current')
        return torch.load(filename, map_location=map_location, weights_only=False)


def _torch_defaults_to_weights_only() -> bool:
    import torch
    version = re.match(r'(\d+)\.(\d+)', torch.__version__)
    if version is None or tuple(map(int, version.groups())) < (2, 6):
        return False
    # torch's own opt-out (it then defaults to full unpickling, as mmengine expects).
    return os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0').lower() not in ('1', 'y', 'yes', 'true')


def mmengine_loader_lacks_weights_only(mmengine_dir: Optional[str] = None) -> bool:
    """Whether mmengine's ``load_from_local`` calls ``torch.load`` without ``weights_only`` (read on disk)."""
    mmengine_dir = mmengine_dir or _package_dir('mmengine')
    if mmengine_dir is None:
        return False
    try:
        with open(osp.join(mmengine_dir, 'runner', 'checkpoint.py'), encoding='utf-8') as f:
            source = f.read()
    except OSError:
        return False
    body = re.search(r'^def load_from_local\(.*?(?=^\S)', source, re.M | re.S)
    return body is not None and 'torch.load(' in body.group(0) and 'weights_only' not in body.group(0)


def _wrap_with_work_dir(cls, method: str) -> None:
    original = cls.__dict__.get(method)
    if original is None or getattr(original, '__snl_compat__', False):
        return

    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        with trusted_checkpoints(self.work_dir):
            return original(self, *args, **kwargs)

    wrapper.__snl_compat__ = True
    setattr(cls, method, wrapper)


def _patch_mmengine_runner() -> None:
    from mmengine.runner import checkpoint
    checkpoint.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    import mmengine.runner as runner
    for name in ('Runner', 'FlexibleRunner'):
        cls = getattr(runner, name, None)
        if cls is not None:
            _wrap_with_work_dir(cls, 'load_checkpoint')
            _wrap_with_work_dir(cls, 'resume')


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Runs ``callback`` right after module ``name`` is first executed (then removes itself)."""

    def __init__(self, name: str, callback: Callable[[], None]):
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


class _CallbackLoader(importlib.abc.Loader):
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


def _apply_mmengine_checkpoint() -> bool:
    if not (_torch_defaults_to_weights_only() and mmengine_loader_lacks_weights_only()):
        return False
    runner = sys.modules.get('mmengine.runner')
    if runner is not None and hasattr(runner, 'Runner'):
        _patch_mmengine_runner()
    elif not any(isinstance(f, _PostImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportHook('mmengine.runner', _patch_mmengine_runner))
    return True


# ---------------------------------------------------------------------------------------------------------------
# 3b. mmaction2 1.2.0's BaseHead.loss_by_feat computes top-k accuracy with ``cls_scores.detach().cpu().numpy()``,
#     which numpy cannot take in bfloat16 (TypeError: Got unsupported ScalarType BFloat16), so bfloat16 autocast
#     (``tools/train.py --amp`` on CPU) fails in every recognizer's loss. The wrapper hands bfloat16 scores to it in
#     float32 (autocast computes the loss in float32 anyway). Applied when the source still calls ``.numpy()`` on the
#     scores; remove when mmaction2 converts them to float first.
# ---------------------------------------------------------------------------------------------------------------
def mmaction_head_numpy_bfloat16(mmaction_dir: Optional[str] = None) -> bool:
    mmaction_dir = mmaction_dir or _package_dir('mmaction')
    if mmaction_dir is None:
        return False
    try:
        with open(osp.join(mmaction_dir, 'models', 'heads', 'base.py'), encoding='utf-8') as f:
            return 'top_k_accuracy(cls_scores.detach().cpu().numpy()' in f.read()
    except OSError:
        return False


def _patch_mmaction_head() -> None:
    import torch
    from mmaction.models.heads.base import BaseHead
    loss_by_feat = BaseHead.loss_by_feat
    if getattr(loss_by_feat, '_snl_float_scores', False):
        return

    @functools.wraps(loss_by_feat)
    def wrapper(self, cls_scores, data_samples):
        if cls_scores.dtype == torch.bfloat16:
            cls_scores = cls_scores.float()
        return loss_by_feat(self, cls_scores, data_samples)

    wrapper._snl_float_scores = True
    BaseHead.loss_by_feat = wrapper


def _apply_mmaction_head_bfloat16() -> bool:
    if not mmaction_head_numpy_bfloat16():
        return False
    if 'mmaction.models.heads.base' in sys.modules:
        _patch_mmaction_head()
    else:
        sys.meta_path.insert(0, _PostImportHook('mmaction.models.heads.base', _patch_mmaction_head))
    return True


# ---------------------------------------------------------------------------------------------------------------
# 4. Install-level problems: reported, not patched.
#    importlib_metadata: mmaction2 1.2.0 imports it (mmaction/utils/dependency.py) but does not declare it; remove the
#    check when mmaction2 declares it. pkg_resources: removed in setuptools 81, still imported by mmengine 0.10.7's
#    is_installed() (Config.fromfile resolving `pkg::` bases); remove when mmengine uses importlib.metadata.
# ---------------------------------------------------------------------------------------------------------------
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
        try:
            with open(osp.join(mmengine_dir, 'utils', 'package_utils.py'), encoding='utf-8') as f:
                needs = 'import pkg_resources' in f.read()
        except OSError:
            needs = False
        if needs:
            problems.append("mmengine's Config.fromfile needs pkg_resources to resolve 'mmseg::' / 'mmaction::' "
                            'config bases, and this setuptools has none (setuptools >= 81 dropped it): '
                            "pip install 'setuptools<81'")
    if _package_dir('mmaction') is not None and not _findable('importlib_metadata'):
        problems.append('mmaction2 imports importlib_metadata without declaring it: pip install importlib_metadata '
                        "(the [video] extra of snl_plugins does)")
    if problems and raise_error:
        raise RuntimeError('The installed OpenMMLab stack is incomplete:\n- ' + '\n- '.join(problems))
    return problems


# ---------------------------------------------------------------------------------------------------------------
_WORKAROUNDS: Tuple[Tuple[str, Callable[[], bool]], ...] = (
    ('mmaction-drn-placeholder', _apply_mmaction_drn),
    ('mmcv-ext-placeholder', _apply_mmcv_ext),
    ('mmengine-checkpoint-loader', _apply_mmengine_checkpoint),
    ('mmaction-head-bfloat16-scores', _apply_mmaction_head_bfloat16),
)


def apply() -> Tuple[str, ...]:
    """Apply every workaround whose defect is present (idempotent). Returns :func:`applied`."""
    for name, fn in _WORKAROUNDS:
        if name not in _applied and fn():
            _applied.append(name)
    return applied()


def applied() -> Tuple[str, ...]:
    """Names of the workarounds applied in this process."""
    return tuple(_applied)

