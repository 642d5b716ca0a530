"""Chebyshev polynomials of an affinity, as the SNL / gSNL operators use them (Eq. 5-11, Appendix B)."""
from typing import List

import torch
from torch import Tensor

from .affinity import Affinity


def chebyshev_terms(affinity: Affinity, z: Tensor, order: int = 2) -> List[Tensor]:
    """The terms the blocks apply to Z: ``[T0 Z, T1 Z]`` (order 1, SNL) or ``[Z, A Z, (2A - I) Z]`` (order 2, gSNL).

    The third is the piecewise term of Appendix B: under the stable hypothesis A^k = A, T_2(A) = 2A - I and
    every higher T_k(A) is one of I, A, 2A - I, so order 2 is the full-order approximation (Eq. 10-11).
    """
    if order != 1 and order != 2:
        raise ValueError('order must be 1 (SNL) or 2 (gSNL, full order under A^k = A)')
    az = affinity.matmul(z)
    return [z, az] if order == 1 else [z, az, 2 * az - z]


def chebyshev_matrix(a: Tensor, k: int) -> Tensor:
    """T_k(A) for a dense (batch of) square matrix by the recurrence T_k = 2 A T_{k-1} - T_{k-2} (Eq. 5)."""
    if k < 0:
        raise ValueError(f'the order k must be >= 0, got {k}')
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)
    prev, cur = eye, a
    if k == 0:
        return eye.clone()
    for _ in range(k - 1):
        prev, cur = cur, 2 * torch.matmul(a, cur) - prev
    return cur
