"""``FwIoUMetric``: mmseg's ``IoUMetric`` plus frequency-weighted IoU (the paper's fwIoU)."""
from typing import Dict

import numpy as np
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS

__all__ = ['FwIoUMetric', 'fw_iou']


def fw_iou(total_area_intersect, total_area_union, total_area_label) -> float:
    """Frequency-weighted IoU in [0, 1] from per-class totals over the whole evaluation set.

    ``freq_c`` = ground-truth pixels of class c / all labelled ground-truth pixels; ``fwIoU = sum_c freq_c IoU_c``
    over the classes with ``freq_c > 0`` (a class only predicted, or absent everywhere, has weight 0). NaN when
    no pixel is labelled.
    """
    intersect, union, label = (np.asarray(getattr(t, 'numpy', lambda: t)(), dtype=np.float64)
                               for t in (total_area_intersect, total_area_union, total_area_label))
    total = label.sum()
    if total <= 0:
        return float('nan')
    present = label > 0  # implies union > 0
    freq = label[present] / total
    return float((freq * intersect[present] / union[present]).sum())


@METRICS.register_module()
class FwIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` (fed and configured exactly like it) that also returns ``fwIoU`` in percent.

    ``dict(type='FwIoUMetric', iou_metrics=['mIoU'])`` gives ``aAcc``, ``mIoU``, ``mAcc`` and ``fwIoU``, each
    rounded to 2 decimals as mmseg does. The per-batch accumulation (``process`` / ``intersect_and_union``) and the
    summation of the totals are IoUMetric's own: the totals are taken where IoUMetric hands them to
    ``total_area_to_metrics``.
    """

    def total_area_to_metrics(self, total_area_intersect, total_area_union, total_area_pred_label,
                              total_area_label, *args, **kwargs):
        self._totals = (total_area_intersect, total_area_union, total_area_label)
        return IoUMetric.total_area_to_metrics(total_area_intersect, total_area_union, total_area_pred_label,
                                               total_area_label, *args, **kwargs)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        self._totals = None
        metrics = super().compute_metrics(results)
        if self._totals is not None:  # None with format_only
            metrics['fwIoU'] = np.round(fw_iou(*self._totals) * 100, 2)
            self._totals = None
        return metrics
