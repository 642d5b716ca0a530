"""P x K identity-balanced sampling that also works under DDP."""
from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

__all__ = ['RandomIdentitySampler']


def _dataset_pids(dataset) -> np.ndarray:
    if hasattr(dataset, 'get_pids'):
        return np.asarray(dataset.get_pids())
    return np.array([dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))])


@DATA_SAMPLERS.register_module()
class RandomIdentitySampler(Sampler):
    """Batches of P identities x K tracklets (``batch_size = P * K`` per process, ``num_instances = K``).

    Each epoch (Gao & Nevatia's sampler): every identity gives one group of K of its tracklets, distinct when it has at
    least K (drawn with replacement otherwise, as in the original: iLIDS-VID and PRID2011 have two per person); the
    groups are shuffled and dealt out a batch of P groups at a time, batch ``b`` of rank ``r`` taking groups
    ``(b * world_size + r) * P ...``. So every process receives whole identity groups, no identity appears twice in an
    epoch across all processes, and every process gets the same number of full batches (identities left over when
    they do not fill one more batch on every process are skipped for that epoch; which ones changes every epoch).

    Set the data loader's ``batch_size`` to the same P * K. The order depends on ``seed`` and the epoch
    (``set_epoch``, called by mmengine's ``DistSamplerSeedHook``) only, the same on every process.
    """

    def __init__(self, dataset, num_instances: int = 4, batch_size: int = 32, seed: Optional[int] = None,
                 rank: Optional[int] = None, world_size: Optional[int] = None):
        self.dataset = dataset
        self.num_instances, self.batch_size = int(num_instances), int(batch_size)
        if self.num_instances < 1 or self.batch_size < 1 or self.batch_size % self.num_instances:
            raise ValueError(f'batch_size ({batch_size}) must be a positive multiple of num_instances '
                             f'({num_instances}): P identities x K tracklets')
        self.num_identities = self.batch_size // self.num_instances
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} out of range for world_size {self.world_size}')
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        pids = _dataset_pids(dataset)
        self.pids = np.unique(pids)
        self.index = {p: np.flatnonzero(pids == p) for p in self.pids}
        per_round = self.num_identities * self.world_size
        self.num_batches = len(self.pids) // per_round
        if self.num_batches == 0:
            raise ValueError(f'RandomIdentitySampler: {len(self.pids)} identities cannot fill one batch of '
                             f'{self.num_identities} identities on each of {self.world_size} processes')

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        groups = []
        for p in self.pids:
            idx = self.index[p]
            groups.append(rng.choice(idx, size=self.num_instances, replace=len(idx) < self.num_instances))
        order = rng.permutation(len(groups))
        P, W = self.num_identities, self.world_size
        for b in range(self.num_batches):
            first = (b * W + self.rank) * P
            for g in order[first:first + P]:
                yield from (int(i) for i in groups[g])

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
