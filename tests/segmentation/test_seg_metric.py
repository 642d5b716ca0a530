"""FwIoUMetric against hand-computed values, fed exactly like mmseg's IoUMetric (through mmengine's Evaluator)."""
import math

import numpy as np
import pytest
import torch

pytest.importorskip('mmseg')
from mmengine.evaluator import Evaluator  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import snl_plugins.mmseg  # noqa: E402,F401
from snl_plugins.mmseg import FwIoUMetric, fw_iou  # noqa: E402

CLASSES = ('a', 'b', 'c', 'd')
# class 2 ('c') is only predicted, class 3 ('d') is absent everywhere (predicted only on an ignored pixel)
GT = [np.array([[0, 0, 1], [1, 255, 0]]), np.array([[1, 1], [0, 255]])]
PRED = [np.array([[0, 1, 1], [2, 0, 0]]), np.array([[1, 1], [2, 3]])]
# By hand, over the 8 labelled pixels: ground truth a=4, b=4; predictions a=2, b=4, c=2; intersections a=2, b=3.
# IoU a = 2/(4+2-2) = 0.5, b = 3/(4+4-3) = 0.6, c = 0/(0+2-0) = 0, d = nan (union 0).
HAND = dict(aAcc=62.5,                        # (2 + 3) / 8
            mIoU=round(100 * (0.5 + 0.6 + 0) / 3, 2),  # nanmean over a, b, c = 36.67
            mAcc=62.5,                        # nanmean(2/4, 3/4)
            fwIoU=55.0)                       # 4/8 * 0.5 + 4/8 * 0.6 (c and d have no ground truth: weight 0)


def samples(gts, preds):
    return [dict(pred_sem_seg=dict(data=torch.as_tensor(p)[None]), gt_sem_seg=dict(data=torch.as_tensor(g)[None]))
            for g, p in zip(gts, preds)]


def evaluate(cfg, gts=GT, preds=PRED, batches=((0,), (1,))):
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator(cfg)
    evaluator.dataset_meta = dict(classes=CLASSES)
    all_samples = samples(gts, preds)
    for idx in batches:
        evaluator.process(data_samples=[all_samples[i] for i in idx], data_batch=None)
    return evaluator.evaluate(len(gts))


def test_hand_computed_values():
    metrics = evaluate(dict(type='FwIoUMetric', iou_metrics=['mIoU']))
    assert metrics == pytest.approx(HAND)


def test_same_as_iou_metric_plus_fwiou():
    ours = evaluate(dict(type='FwIoUMetric', iou_metrics=['mIoU', 'mDice']))
    theirs = evaluate(dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice']))
    assert ours.pop('fwIoU') == pytest.approx(55.0)
    assert ours == theirs


def test_batching_does_not_change_the_result():
    assert evaluate(dict(type='FwIoUMetric'), batches=((0, 1),)) == pytest.approx(HAND)


def test_is_an_iou_metric_with_its_options():
    from mmseg.evaluation.metrics import IoUMetric
    from mmseg.registry import METRICS
    with DefaultScope.overwrite_default_scope('mmseg'):
        metric = METRICS.build(dict(type='FwIoUMetric', ignore_index=0, nan_to_num=0))
    assert isinstance(metric, IoUMetric) and metric.ignore_index == 0 and metric.nan_to_num == 0


def test_ignore_index_is_honoured():
    # with ignore_index=0, class 0 pixels are dropped instead of the 255s; 255 is then out of range and never counted
    metrics = evaluate(dict(type='FwIoUMetric', ignore_index=0))
    # labelled pixels: b (4 of them) predicted b, b, c(img1 (1,0)), b, b -> img1: (0,2) b->b, (1,0) b->c; img2 b->b x2
    # gt b=4, pred b=3 (+ pred a on none, c=1), inter b=3: IoU b = 3/4, fwIoU = 75 (only b has ground truth)
    assert metrics['fwIoU'] == pytest.approx(75.0)
    assert metrics['aAcc'] == pytest.approx(75.0)


def test_fw_iou_function_edge_cases():
    assert fw_iou(np.zeros(3), np.zeros(3), np.zeros(3)) != fw_iou(np.zeros(3), np.zeros(3), np.zeros(3))  # nan
    assert fw_iou(torch.tensor([2., 0.]), torch.tensor([2., 3.]), torch.tensor([2., 0.])) == 1.0
    assert math.isclose(fw_iou([1, 1], [2, 4], [1, 3]), 0.25 * 0.5 + 0.75 * 0.25)


def test_format_only_returns_nothing(tmp_path):
    metric = FwIoUMetric(format_only=True, output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=CLASSES)
    assert metric.compute_metrics([]) == {}
