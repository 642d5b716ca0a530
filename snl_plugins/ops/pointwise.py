"""1x1 (pointwise) projections on flattened, channel-first features, fused into one matrix product each."""
from typing import List

import torch
from torch import Tensor


def project(x: Tensor, weights: List[Tensor]) -> List[Tensor]:
    """Apply several 1x1 projections to ``x`` (B x C_in x N) with one product; returns one B x C_k x N per weight.

    Each weight is C_k x C_in (or a 1x1 convolution's C_k x C_in x 1 ... kernel).
    """
    flat = [w.flatten(1) for w in weights]
    if len(flat) == 1:
        return [torch.matmul(flat[0], x)]
    return list(torch.matmul(torch.cat(flat), x).split([w.shape[0] for w in flat], dim=1))


def combine(terms: List[Tensor], weights: List[Tensor]) -> Tensor:
    """``sum_k W_k T_k`` for terms B x C_k x N and weights C_out x C_k, as one product over the stacked terms."""
    if len(terms) != len(weights):
        raise ValueError('{} terms but {} weights'.format(len(terms), len(weights)))
    if len(terms) == 1:
        return torch.matmul(weights[0].flatten(1), terms[0])
    return torch.matmul(torch.cat([w.flatten(1) for w in weights], dim=1), torch.cat(terms, dim=1))
