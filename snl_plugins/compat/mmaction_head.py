"""``mmaction-head-bfloat16-scores``: mmaction2 1.2.0's heads fail on bfloat16 class scores.

Upstream: no issue found. ``BaseHead.loss_by_feat`` computes top-k accuracy from
``cls_scores.detach().cpu().numpy()``, which numpy cannot take in bfloat16 (``TypeError: Got unsupported ScalarType
BFloat16``), so no recognizer trains under bfloat16 autocast (our ``tools/train.py --amp`` on CPU).

Workaround: ``loss_by_feat`` is wrapped to take bfloat16 scores in float32 (autocast computes the loss in float32
anyway), when ``mmaction.models.heads.base`` is imported (an import hook if it is not yet). Applied while the source
still calls ``.numpy()`` on the scores (:func:`mmaction_head_numpy_bfloat16`).

Remove when mmaction2 converts the scores to float first.
"""
import functools
import os.path as osp
import sys
from typing import Optional

from ._imports import _package_dir, _PostImportHook, _read

NAME = 'mmaction-head-bfloat16-scores'
_MODULE = 'mmaction.models.heads.base'


def mmaction_head_numpy_bfloat16(mmaction_dir: Optional[str] = None) -> bool:
    """Whether mmaction's ``BaseHead.loss_by_feat`` hands the raw scores to numpy (read on disk)."""
    mmaction_dir = mmaction_dir or _package_dir('mmaction')
    if mmaction_dir is None:
        return False
    source = _read(osp.join(mmaction_dir, 'models', 'heads', 'base.py'))
    return source is not None and 'top_k_accuracy(cls_scores.detach().cpu().numpy()' in source


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


def apply() -> bool:
    """Wrap ``loss_by_feat`` now if its module is imported, else when it is; False if no defect."""
    if not mmaction_head_numpy_bfloat16():
        return False
    if _MODULE in sys.modules:
        _patch_mmaction_head()
    elif not any(isinstance(f, _PostImportHook) and f.name == _MODULE for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportHook(_MODULE, _patch_mmaction_head))
    return True
