"""Compact generalized non-local block (Yue et al. 2018)."""
import math
from typing import Optional

import torch
from torch import Tensor

from ..ops import Affinity, check_choice, project
from .base import NonlocalBlock, positive_int, resolve_inter_channels


class CGNL(NonlocalBlock):
    """Channel-wise non-local block: every (position, channel) element attends to every other in its group.

    In each of ``groups`` channel groups, with theta, phi, g flattened to vectors of N * Cs / G elements, the
    kernel f(theta_a, phi_b) is a Taylor series ``sum_p alpha_p^2 (theta_a phi_b)^p``, so
    ``y = sum_p alpha_p theta^p (alpha_p (phi^p)^T g)`` costs O(N Cs P) and never forms the kernel matrix.
    kernel 'dot': P = 1, alpha = (0, 1), i.e. y = theta (phi^T g). kernel 'gaussian': exp(-gamma (theta_a -
    phi_b)^2) with alpha_p^2 = exp(-2 gamma) (2 gamma)^p / p!, p = 0..order, as in the official code. Then a grouped
    1x1 ``w``, GroupNorm(groups) (zero-initialised) and the residual. ``use_scale`` divides by sqrt(N Cs / G).

    Mixed precision: ``phi^T g`` sums N Cs / G products and ``theta^p`` raises to the Taylor order, so ``y`` is
    routinely far beyond float16's range (1e8 at res4 sizes) before the norm removes its scale. For float16 /
    bfloat16 inputs the block runs in float32 (``float32_branch``): its products are O(N Cs), so little is lost.

    Args:
        in_channels: C1, the input's channels.
        reduction: Cs = C1 / reduction (the paper's "Sub 2" is 2).
        inter_channels: Cs itself, overriding ``reduction``.
        groups: channel groups G (dividing C1 and Cs); also the default norm's, GroupNorm(G).
        kernel: 'dot' or 'gaussian' (its Taylor series of order ``order`` with ``gamma``).
        order: the Taylor order of the Gaussian kernel.
        gamma: the Gaussian kernel's gamma.
        use_scale: divide by sqrt(N Cs / G).
        dim: 1, 2 or 3: inputs B x C x L, B x C x H x W or B x C x T x H x W.
        norm_cfg: the norm after the branch, OpenMMLab style (default ``dict(type='GN', num_groups=groups)``;
            'BN', 'SyncBN', 'IN', or any norm in mmengine's ``MODELS``).
        relu: a ReLU after the norm (the authors' segmentation head); needs ``zero_init=False``.
        zero_init: the norm's weight starts at 0, so that the block starts as the identity (default: ``not relu``).
    """
    float32_branch = True

    def __init__(self, in_channels: int, reduction: float = 2, inter_channels: Optional[int] = None, *,
                 groups: int = 8, kernel: str = 'dot', order: int = 3, gamma: float = 1e-4, use_scale: bool = False,
                 dim: int = 2, norm_cfg: Optional[dict] = None, relu: bool = False,
                 zero_init: Optional[bool] = None):
        check_choice('kernel', kernel, ('dot', 'gaussian'))
        # checked before the GroupNorm(groups) is built, which would fail first with a message about the norm
        inter = resolve_inter_channels(in_channels, reduction, inter_channels)
        if not positive_int(groups):
            raise ValueError(f'groups must be a positive int, got {groups!r}')
        if inter % groups or in_channels % groups:
            raise ValueError(f'groups={groups} must divide in_channels ({in_channels}) and inter_channels '
                             f'({inter})')
        if kernel == 'gaussian' and order < 1:
            raise ValueError(f'the Taylor order of the Gaussian kernel must be >= 1, got {order}')
        norm_cfg = dict(type='GN', num_groups=groups) if norm_cfg is None else norm_cfg
        super().__init__(in_channels, reduction=reduction, inter_channels=inter_channels, dim=dim,
                         norm_cfg=norm_cfg, relu=relu, zero_init=zero_init)
        self.groups, self.kernel, self.order, self.gamma, self.use_scale = groups, kernel, order, gamma, use_scale
        if kernel == 'dot':
            alphas = [0.0, 1.0]
        else:
            beta = math.exp(-2 * gamma)
            alphas = [math.sqrt(beta * (2 * gamma) ** p / math.factorial(p)) for p in range(order + 1)]
        # float64, cast to the input's dtype in forward: a float32 buffer would round them for float64 inputs
        self.register_buffer('alphas', torch.tensor(alphas, dtype=torch.float64), persistent=False)
        self.theta = self.conv1x1(in_channels, self.inter_channels)
        self.phi = self.conv1x1(in_channels, self.inter_channels)
        self.g = self.conv1x1(in_channels, self.inter_channels)
        self.w = self.conv1x1(self.inter_channels, in_channels, groups=groups)
        self.init_weights()

    def taylor_features(self, t: Tensor) -> Tensor:
        """``[alpha_p t^p]_p`` for t of (B G) x 1 x M elements -> (B G) x (P + 1) x M."""
        powers = [torch.ones_like(t)]
        for _ in range(self.alphas.shape[0] - 1):
            powers.append(powers[-1] * t)
        return self.alphas.to(t.dtype).view(1, -1, 1) * torch.cat(powers, dim=1)

    def branch(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        if affinity is not None:
            raise ValueError('CGNL computes its own channel-wise kernel and cannot take a shared affinity')
        b, groups = x.shape[0], self.groups
        # B x Cs x N -> (B G) x 1 x (Cs / G * N): one vector of elements per group.
        theta, phi, g = [t.reshape(b * groups, 1, t.shape[1] // groups * t.shape[2]) for t in
                         project(x.flatten(2), [self.theta.weight, self.phi.weight, self.g.weight])]
        right = self.taylor_features(phi)
        if self.use_scale:
            right = right / math.sqrt(g.shape[2])
        affinity = Affinity(left=self.taylor_features(theta), right=right)
        if not torch.jit.is_scripting():
            self.keep_affinity(affinity)
        y = affinity.matmul(g).reshape([b, self.inter_channels] + list(x.shape[2:]))
        return self.w(y)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', groups={self.groups}, kernel={self.kernel!r}, order={self.order}'
