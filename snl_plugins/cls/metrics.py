"""Top-k accuracy for classification, in percent."""
from __future__ import annotations

from typing import Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

__all__ = ['Accuracy']


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent over ``dict(pred_score, gt_label)`` samples (what ``TimmClassifier`` predicts).

    Args:
        topk: the k's to report; each gives ``'{prefix}/top{k}'`` (``accuracy/top1``, ``accuracy/top5``). A k larger
            than the number of classes counts every sample as correct (as top-5 on a 3-class problem must).
    """
    default_prefix = 'accuracy'

    def __init__(self, topk: Union[int, Sequence[int]] = (1, 5), collect_device: str = 'cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(int(k) < 1 for k in self.topk):
            raise ValueError(f'topk must be positive integers, got {topk!r}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            score = torch.as_tensor(sample['pred_score']).float().reshape(-1)
            label = int(torch.as_tensor(sample['gt_label']).reshape(-1)[0])
            # 0-based rank of the true class; ties go to the lower class index, as a stable sort would
            rank = int((score > score[label]).sum()) + int((score[:label] == score[label]).sum())
            self.results.append(dict(rank=rank))

    def compute_metrics(self, results: list) -> dict:
        if not results:
            return {f'top{k}': 0.0 for k in self.topk}
        ranks = torch.tensor([r['rank'] for r in results])
        return {f'top{k}': float((ranks < k).float().mean() * 100.0) for k in self.topk}
