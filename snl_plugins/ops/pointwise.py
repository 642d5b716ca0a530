"""1x1 (pointwise) projections on flattened, channel-first features, fused into one matrix product each."""
from typing import List

import torch
from torch import Tensor


def _batched(weight: Tensor, batch: int) -> Tensor:
    # An expanded (stride-0) weight lets bmm read x in place; matmul(W, x) would copy x transposed.
    return weight.flatten(1).unsqueeze(0).expand(batch, -1, -1)


def project(x: Tensor, weights: List[Tensor]) -> List[Tensor]:
    """Apply several 1x1 projections to ``x`` (B x C_in x N) with one product; returns one B x C_k x N per weight.

    Each weight is C_k x C_in (or a 1x1 convolution's C_k x C_in x 1 ... kernel).
    """
    if len(weights) == 1:
        return [torch.bmm(_batched(weights[0], x.shape[0]), x)]
    out = torch.bmm(_batched(torch.cat([w.flatten(1) for w in weights]), x.shape[0]), x)
    return list(out.split([w.shape[0] for w in weights], dim=1))


def combine(terms: List[Tensor], weights: List[Tensor]) -> Tensor:
    """``sum_k W_k T_k`` for terms B x C_k x N and weights C_out x C_k, accumulated product by product (bmm and add
    rather than baddbmm, which mmengine's complexity counter cannot see)."""
    if len(terms) != len(weights):
        raise ValueError('{} terms but {} weights'.format(len(terms), len(weights)))
    batch = terms[0].shape[0]
    out = torch.bmm(_batched(weights[0], batch), terms[0])
    for i in range(1, len(terms)):
        out = out + torch.bmm(_batched(weights[i], batch), terms[i])
    return out
