"""mAP and CMC for video re-ID as an mmengine metric."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.registry import METRICS

from .evaluation import DISTANCES, PROTOCOLS, evaluate_features

__all__ = ['VideoReIDMetric']


@METRICS.register_module()
class VideoReIDMetric(BaseMetric):
    """mAP and rank-k (CMC) over query / gallery tracklets, as fractions in [0, 1].

    Reads what :class:`~snl_plugins.reid.RTM` predicts for a test item (one tracklet, its clip features averaged
    into ``feat``; which clips, ``sampling`` / ``max_clips`` of the data set, is the test-time clip sampling) together
    with ``pid``, ``camid``, ``query`` and ``gallery`` (a tracklet may be both, as in Mars's official gallery).
    Distances are built one chunk of ``chunk_size`` queries at a time (memory O(chunk x gallery)).

    Args:
        ranks: the CMC ranks to report (``reid/rank1`` ...); each must be <= ``max_rank``.
        distance: 'sqeuclidean' (Gao & Nevatia, torchreid), 'euclidean' or 'cosine' (rankings of the first two agree).
        protocol: 'standard' (torchreid's) or 'mars_official' (see :mod:`snl_plugins.reid.evaluation`).
        normalize: L2-normalise the tracklet features first.
    """
    default_prefix = 'reid'

    def __init__(self, ranks: Sequence[int] = (1, 5, 10, 20), max_rank: int = 50, distance: str = 'sqeuclidean',
                 protocol: str = 'standard', normalize: bool = False, chunk_size: int = 256,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ranks = tuple(int(k) for k in ranks)
        self.max_rank = int(max_rank)
        if not self.ranks or min(self.ranks) < 1 or max(self.ranks) > self.max_rank:
            raise ValueError(f'ranks must be in [1, max_rank={self.max_rank}], got {ranks!r}')
        if distance not in DISTANCES:
            raise ValueError(f'distance must be one of {DISTANCES}, got {distance!r}')
        if protocol not in PROTOCOLS:
            raise ValueError(f'protocol must be one of {PROTOCOLS}, got {protocol!r}')
        self.distance, self.protocol = distance, protocol
        self.normalize, self.chunk_size = bool(normalize), int(chunk_size)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            missing = [k for k in ('feat', 'pid', 'camid', 'query', 'gallery') if k not in s]
            if missing:
                raise KeyError(f'VideoReIDMetric needs {missing} in each prediction (an RTM on a video re-ID '
                               f'test split), got keys {sorted(s)}')
            self.results.append(dict(feat=torch.as_tensor(s['feat']).detach().float().cpu().reshape(-1),
                                     pid=int(s['pid']), camid=int(s['camid']), query=bool(s['query']),
                                     gallery=bool(s['gallery'])))

    def compute_metrics(self, results: list) -> dict:
        feats = torch.stack([r['feat'] for r in results])
        if self.normalize:
            feats = torch.nn.functional.normalize(feats, dim=1)
        pids = np.array([r['pid'] for r in results])
        cams = np.array([r['camid'] for r in results])
        q = np.array([r['query'] for r in results])
        g = np.array([r['gallery'] for r in results])
        if not q.any() or not g.any():
            raise ValueError(f'VideoReIDMetric: {int(q.sum())} query and {int(g.sum())} gallery tracklets; evaluate '
                             "a split holding both (split='test')")
        qi, gi = torch.from_numpy(np.flatnonzero(q)), torch.from_numpy(np.flatnonzero(g))
        cmc, mAP = evaluate_features(feats[qi], feats[gi], pids[q], pids[g], cams[q], cams[g], self.max_rank,
                                     distance=self.distance, protocol=self.protocol, chunk_size=self.chunk_size)
        print_log(f'video re-ID ({self.protocol} protocol): {int(q.sum())} query, {int(g.sum())} gallery tracklets',
                  logger='current')
        out = dict(mAP=float(mAP))
        out.update({f'rank{k}': float(cmc[k - 1]) for k in self.ranks})
        return out
