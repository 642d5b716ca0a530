"""Workarounds for defects of the upstream stack: an index. Each lives in its own module, whose docstring names the
upstream issue and when the workaround can go.

:func:`apply` is called when :mod:`snl_plugins` is imported (OpenMMLab's own ``tools/train.py`` /
``tools/test.py`` import us through ``custom_imports=dict(imports=['snl_plugins'])``). It is idempotent and
cheap: it only looks at files on disk (``importlib.util.find_spec`` of a top-level name imports nothing) and
imports no host library that is not imported already. Each workaround is applied only when its defect is
present, so a full mmcv, a fixed mmaction2 or a fixed mmengine are left untouched. :func:`applied` lists what
was applied in this process (for logs and tests); :func:`check_install` reports install-level problems that code
cannot fix.

Applied by :func:`apply`, in this order:

``mmaction-drn-placeholder`` (:mod:`.mmaction_drn`, open-mmlab/mmaction2#2714)
    mmaction2 1.2.0 as published lacks ``mmaction.models.localizers.drn``, so ``import mmaction.models`` fails.
    Placeholder modules are put in ``sys.modules``; their ``DRN`` raises a clear error when instantiated.

``mmcv-ext-placeholder`` (:mod:`.mmcv_ext`)
    mmcv-lite has no compiled ``mmcv._ext``, and ``import mmseg.models`` imports ``mmcv.ops`` at module level. A
    placeholder ``mmcv._ext`` lets it import; every op called on it raises :class:`MmcvOpsUnavailableError` naming
    the op and how to get full mmcv. For mmsegmentation's own tools, which import ``mmcv.ops`` before any config is
    read, the start-up hook of :mod:`.startup` (``python -m snl_plugins.compat.startup install``) applies the same
    module's placeholder at interpreter start-up; :func:`applied` lists it then too.

``mmengine-checkpoint-loader`` (:mod:`.mmengine_checkpoint`, open-mmlab/mmengine#1655)
    Under torch >= 2.6 mmengine 0.10.7 cannot load the checkpoints its Runner saves. Its local loader is replaced by
    :func:`load_from_local`, which follows the trust policy of :mod:`.checkpoint_trust`: ``weights_only`` with a
    narrow allow-list (:func:`checkpoint_safe_globals`) for every file, full unpickling only for files the user
    names, or their folders (:func:`trusted_checkpoints`, ``--trust-checkpoint``, ``SNL_TRUST_CHECKPOINTS``),
    otherwise :class:`UntrustedCheckpointError`. ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is warned about.

``mmaction-head-bfloat16-scores`` (:mod:`.mmaction_head`)
    mmaction2 1.2.0's ``BaseHead.loss_by_feat`` hands the class scores to numpy, which has no bfloat16, so no
    recognizer trains under bfloat16 autocast. ``loss_by_feat`` is wrapped to take bfloat16 scores in float32.

Avoided rather than patched (so listed here, where every workaround is looked for):

``FlowAwareFlip`` (:mod:`snl_plugins.mmaction.rgb_flow`)
    Since open-mmlab/mmaction2#2631 (in 1.2.0) ``RawFrameDecode`` returns each flow frame as one H x W x 2 (x, y)
    array, but ``Flip`` still inverts every other item of the frame list, as for the old interleaved x, y images:
    a flipped flow clip gets both channels inverted in frames 0, 2, 4, ... and nothing in the others. mmaction2's
    ``Flip`` is left alone (patching it would change other users' pipelines); our flow configs use
    ``FlowAwareFlip``, which inverts flow-x in every frame, and ``WithFlow`` refuses the plain ``Flip``. It can go
    once mmaction2's ``Flip`` handles stacked flow (not fixed as of 1.2.0; no upstream issue found).

Reported, not patched (:mod:`.install`, :func:`check_install`; ``raise_error=True`` raises a clear error): mmaction2
imports ``importlib_metadata`` without declaring it, and setuptools >= 81 has no ``pkg_resources``, which mmengine
0.10.7's ``Config.fromfile`` needs to resolve ``mmseg::`` / ``mmaction::`` bases.

Shared machinery: :mod:`._imports` (finding packages without importing them, post-import hooks).
"""
from typing import Callable, List, Tuple

# _imports and mmcv_ext may be in sys.modules already, loaded by the start-up hook (see .startup) under these names
# without this package: these imports then bind those very modules (as attributes too), so each is loaded once.
from . import _imports, mmcv_ext  # noqa: F401
from . import checkpoint_trust, install, mmaction_drn, mmaction_head, mmengine_checkpoint  # noqa: F401
# the names of the former single module, kept importable from here
from ._imports import _has_module_file, _package_dir, _PostImportHook  # noqa: F401
from .checkpoint_trust import (TRUST_ENV, DamagedCheckpointError, UntrustedCheckpointError,  # noqa: F401
                               _restricted_getattr, checkpoint_safe_globals, load_from_local, trusted_checkpoints)
from .install import check_install
from .mmaction_drn import DRN, mmaction_drn_missing  # noqa: F401
from .mmaction_head import mmaction_head_numpy_bfloat16  # noqa: F401
from .mmcv_ext import FULL_MMCV_HINT, MmcvOpsUnavailableError, mmcv_ext_missing  # noqa: F401
from .mmengine_checkpoint import _torch_defaults_to_weights_only, mmengine_loader_lacks_weights_only  # noqa: F401

__all__ = ['apply', 'applied', 'check_install', 'checkpoint_safe_globals', 'load_from_local',
           'DamagedCheckpointError', 'MmcvOpsUnavailableError', 'trusted_checkpoints', 'UntrustedCheckpointError',
           'TRUST_ENV']

# former names of the apply functions (snl_plugins.compat was one module)
_apply_mmaction_drn = mmaction_drn.apply
_apply_mmcv_ext = mmcv_ext.apply
_apply_mmengine_checkpoint = mmengine_checkpoint.apply
_apply_mmaction_head_bfloat16 = mmaction_head.apply

# The registry: name and apply function (True when the workaround is in place) of every workaround, in order.
_WORKAROUNDS: Tuple[Tuple[str, Callable[[], bool]], ...] = tuple(
    (module.NAME, module.apply) for module in (mmaction_drn, mmcv_ext, mmengine_checkpoint, mmaction_head))

_applied: List[str] = []


def apply() -> Tuple[str, ...]:
    """Apply every workaround whose defect is present (idempotent). Returns :func:`applied`."""
    for name, fn in _WORKAROUNDS:
        if name not in _applied and fn():
            _applied.append(name)
    return applied()


def applied() -> Tuple[str, ...]:
    """Names of the workarounds applied in this process (with ``mmcv-ext-placeholder`` where the start-up hook
    applied it before ``import snl_plugins``)."""
    return tuple(_applied)
