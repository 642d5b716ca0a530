"""Ranking evaluation for re-identification: CMC and mAP from a distance matrix or from features.

The default protocol is torchreid's ``eval_market1501`` (the one video re-ID papers, Gao & Nevatia 2018 included,
report): for each query the gallery is ranked by distance (ties in gallery order), gallery entries with the query's
identity *and* camera are removed, queries with no remaining true match are skipped; CMC rank-k is the fraction of
queries whose first true match is within the top k, AP the mean of the precision at each true match.

``protocol='mars_official'`` follows the MATLAB code released with Mars (``MARS-evaluation/utils/evaluation_mars.m``
and ``compute_AP.m``): the queries are kept in the gallery (pass a gallery that holds them), gallery entries of identity
``-1`` (the junk folder ``00-1``) are removed for every query as well, and AP is the trapezoidal area under the
precision / recall curve that code computes (precision starting at 1). Queries without a true match are skipped here too
(the MATLAB code would give NaN; Mars's official queries all have one).

Everything runs on query chunks, so memory is O(chunk x gallery), never O(queries x gallery) beyond the distance matrix
the caller already holds (:func:`evaluate_features` never holds one at all).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

__all__ = ['PROTOCOLS', 'evaluate_rank', 'evaluate_features', 'pairwise_distance']

PROTOCOLS = ('standard', 'mars_official')
DISTANCES = ('euclidean', 'sqeuclidean', 'cosine')


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f'protocol must be one of {PROTOCOLS}, got {protocol!r}')


def _as_1d(name: str, a, n: Optional[int] = None) -> np.ndarray:
    a = np.asarray(a).reshape(-1)
    if n is not None and len(a) != n:
        raise ValueError(f'{name} has {len(a)} entries, expected {n} (one per row / column of the distance matrix)')
    return a


class _Accumulator:
    """Per-query first-match rank and AP, gathered chunk by chunk."""

    def __init__(self, max_rank: int):
        if int(max_rank) < 1:
            raise ValueError(f'max_rank must be >= 1, got {max_rank}')
        self.max_rank = int(max_rank)
        self.first = []  # 1-based rank of the first true match (valid queries only)
        self.ap = []

    def add(self, dist: np.ndarray, q_pids, g_pids, q_camids, g_camids, protocol: str) -> None:
        """Rank one chunk: ``dist`` is (chunk x gallery)."""
        order = np.argsort(dist, axis=1, kind='stable')
        gp, gc = g_pids[order], g_camids[order]
        same_pid = gp == q_pids[:, None]
        remove = same_pid & (gc == q_camids[:, None])
        if protocol == 'mars_official':
            remove |= gp == -1
        keep = ~remove
        matches = same_pid & keep
        num_rel = matches.sum(1)
        valid = num_rel > 0
        if not valid.any():
            return
        keep, matches, num_rel = keep[valid], matches[valid], num_rel[valid]
        rank = np.cumsum(keep, axis=1)  # 1-based position among the kept entries
        hits = np.cumsum(matches, axis=1)
        big = np.iinfo(np.int64).max
        self.first.append(np.where(matches, rank, big).min(1))
        precision = hits / np.maximum(rank, 1)
        if protocol == 'standard':
            ap = np.where(matches, precision, 0.0).sum(1) / num_rel
        else:
            # trapezoid over the kept entries: at each kept position, (recall - old_recall) * (old_prec + prec) / 2
            # with old_prec the precision one kept position earlier (1 before the first); only true matches raise
            # recall, by 1 / num_rel each
            before = np.where(rank > 1, (hits - 1) / np.maximum(rank - 1, 1), 1.0)
            ap = np.where(matches, (before + precision) / 2.0, 0.0).sum(1) / num_rel
        self.ap.append(ap)

    def result(self) -> Tuple[np.ndarray, float]:
        if not self.first:
            raise ValueError('no query has a true match in the gallery (after removing same-identity same-camera '
                             'entries): CMC and mAP are undefined')
        first = np.concatenate(self.first)
        ks = np.arange(1, self.max_rank + 1)
        cmc = (first[:, None] <= ks[None, :]).mean(0).astype(np.float32)
        return cmc, float(np.concatenate(self.ap).mean())


def evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 50, *,
                  protocol: str = 'standard', chunk_size: int = 1024) -> Tuple[np.ndarray, float]:
    """``(cmc, mAP)`` from a (queries x gallery) distance matrix, both as fractions in [0, 1].

    ``cmc`` has ``max_rank`` entries, ``cmc[k - 1]`` being rank-k; when fewer than ``max_rank`` gallery entries remain
    for a query, its later ranks count as matched (its first true match lies within them). Raises ``ValueError`` when
    no query has a true match. See the module docstring for the protocols.
    """
    _check_protocol(protocol)
    distmat = np.asarray(distmat)
    if distmat.ndim != 2:
        raise ValueError(f'distmat must be 2-D (queries x gallery), got shape {distmat.shape}')
    nq, ng = distmat.shape
    q_pids, q_camids = _as_1d('q_pids', q_pids, nq), _as_1d('q_camids', q_camids, nq)
    g_pids, g_camids = _as_1d('g_pids', g_pids, ng), _as_1d('g_camids', g_camids, ng)
    acc = _Accumulator(max_rank)
    for s in range(0, nq, max(int(chunk_size), 1)):
        e = min(s + chunk_size, nq)
        acc.add(distmat[s:e], q_pids[s:e], g_pids, q_camids[s:e], g_camids, protocol)
    return acc.result()


def pairwise_distance(qf: torch.Tensor, gf: torch.Tensor, distance: str = 'sqeuclidean') -> torch.Tensor:
    """(q x g) distances between row features: squared Euclidean (Gao & Nevatia, torchreid), Euclidean or cosine."""
    if distance not in DISTANCES:
        raise ValueError(f'distance must be one of {DISTANCES}, got {distance!r}')
    qf, gf = qf.double(), gf.double()
    if distance == 'cosine':
        qn = torch.nn.functional.normalize(qf, dim=1)
        gn = torch.nn.functional.normalize(gf, dim=1)
        return 1.0 - qn @ gn.t()
    d = (qf * qf).sum(1, keepdim=True) + (gf * gf).sum(1)[None, :] - 2.0 * qf @ gf.t()
    d = d.clamp_(min=0)
    return d.sqrt_() if distance == 'euclidean' else d


def evaluate_features(qf, gf, q_pids, g_pids, q_camids, g_camids, max_rank: int = 50, *,
                      distance: str = 'sqeuclidean', protocol: str = 'standard', chunk_size: int = 256
                      ) -> Tuple[np.ndarray, float]:
    """:func:`evaluate_rank` from query / gallery features, the distances built one query chunk at a time."""
    _check_protocol(protocol)
    qf, gf = torch.as_tensor(qf), torch.as_tensor(gf)
    if qf.dim() != 2 or gf.dim() != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f'features must be (n x d) with the same d, got {tuple(qf.shape)} and {tuple(gf.shape)}')
    nq, ng = len(qf), len(gf)
    q_pids, q_camids = _as_1d('q_pids', q_pids, nq), _as_1d('q_camids', q_camids, nq)
    g_pids, g_camids = _as_1d('g_pids', g_pids, ng), _as_1d('g_camids', g_camids, ng)
    acc = _Accumulator(max_rank)
    for s in range(0, nq, max(int(chunk_size), 1)):
        e = min(s + chunk_size, nq)
        dist = pairwise_distance(qf[s:e], gf, distance).cpu().numpy()
        acc.add(dist, q_pids[s:e], g_pids, q_camids[s:e], g_camids, protocol)
    return acc.result()
