"""Double attention block, A^2-Nets (Chen et al. 2018)."""
from typing import List, Optional

import torch
from torch import Tensor

from ..ops import Affinity, accumulation_dtype, combine, low_precision, project
from .base import NonlocalBlock


class A2(NonlocalBlock):
    """``Y = X + norm(W [phi(X) softmax_N(theta(X))^T] softmax_n(rho(X)))``.

    Feature gathering: each of the n attention maps ``theta`` (softmax over positions) pools the m features
    ``phi`` into a descriptor (G = phi theta-bar^T, m x n). Feature distribution: at every position the n attention
    vectors ``rho`` (softmax over the n descriptors) mix them (Z = G rho-bar). m = C1 / reduction; n = m unless
    ``num_descriptors`` says otherwise. O(m n N): the equivalent affinity ``rho-bar^T theta-bar`` (rank <= n) is
    kept in factorised form (``self.affinity`` when recording).

    Args:
        in_channels: C1, the input's channels.
        reduction: m = C1 / reduction.
        inter_channels: m itself, overriding ``reduction``.
        num_descriptors: n (default m).
        dim: 1, 2 or 3: inputs B x C x L, B x C x H x W or B x C x T x H x W.
        norm_cfg: the norm after the branch, OpenMMLab style (``dict(type='BN')``, the default: the batch norm of
            ``dim``; 'SyncBN', 'GN' with ``num_groups``, 'IN', or any norm in mmengine's ``MODELS``).
        relu: a ReLU after the norm (the authors' segmentation head); needs ``zero_init=False``.
        zero_init: the norm's weight starts at 0, so that the block starts as the identity (default: ``not relu``).
    """

    def __init__(self, in_channels: int, reduction: float = 2, inter_channels: Optional[int] = None, *,
                 num_descriptors: Optional[int] = None, dim: int = 2, norm_cfg: Optional[dict] = None,
                 relu: bool = False, zero_init: Optional[bool] = None):
        super().__init__(in_channels, reduction=reduction, inter_channels=inter_channels, dim=dim,
                         norm_cfg=norm_cfg, relu=relu, zero_init=zero_init)
        self.num_descriptors = num_descriptors or self.inter_channels
        self.phi = self.conv1x1(in_channels, self.inter_channels)
        self.theta = self.conv1x1(in_channels, self.num_descriptors)
        self.rho = self.conv1x1(in_channels, self.num_descriptors)
        self.w = self.conv1x1(self.inter_channels, in_channels)
        self.init_weights()

    def branch(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        if affinity is not None:
            raise ValueError('A2 computes its own attention and cannot take a shared affinity')
        flat = x.flatten(2)
        if torch.jit.is_scripting():
            features, maps, vectors = project(flat, [self.phi.weight, self.theta.weight, self.rho.weight])
        else:
            features, maps, vectors = self.projections(flat)
        # A_ij = sum_k rho-bar_ki theta-bar_kj, so A Z^T = (features theta-bar^T) rho-bar = G rho-bar.
        affinity = Affinity(left=torch.softmax(vectors, dim=1).to(features.dtype),
                            right=torch.softmax(maps, dim=2).to(features.dtype))
        if not torch.jit.is_scripting():
            self.keep_affinity(affinity)
        return combine([affinity.matmul(features)], [self.w.weight]).view(x.shape)

    @torch.jit.unused
    def projections(self, flat: Tensor) -> List[Tensor]:
        """phi's features, theta's and rho's logits. The logits in float32 for a float16 / bfloat16 input or under
        autocast: rounded to float16 at the scale of post-ReLU features (1e3) they are off by ~0.5, and a softmax of
        them by a factor of e^0.5."""
        if not low_precision(flat):
            return project(flat, [self.phi.weight, self.theta.weight, self.rho.weight])
        with torch.autocast(flat.device.type, enabled=False):
            acc = accumulation_dtype(flat.dtype)
            maps, vectors = project(flat.to(acc), [self.theta.weight.to(acc), self.rho.weight.to(acc)])
        return [project(flat, [self.phi.weight])[0], maps, vectors]

    def extra_repr(self) -> str:
        return super().extra_repr() + f', num_descriptors={self.num_descriptors}'
