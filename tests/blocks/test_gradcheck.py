"""``torch.autograd.gradcheck`` of every block (both dot-kernel paths), w.r.t. the input and every parameter.

The norms get non-zero weights (``zero_init=False`` and random affine parameters) so that the gradients are not
trivially zero, and run in eval mode (BatchNorm with running statistics, GroupNorm) to be deterministic.
"""
import pytest
import torch
from torch.func import functional_call

from . import reference as ref
from .cases import ALL_FACTORIES, ALL_IDS


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_gradcheck(factory):
    block = ref.randomize_all(factory(zero_init=False), seed=1, eval_mode=True)
    names = [n for n, _ in block.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for _, p in block.named_parameters())
    spatial = {1: (4,), 2: (2, 2), 3: (1, 2, 2)}[block.dim]  # 4 positions: a fast numerical Jacobian
    x = torch.randn(1, 8, *spatial, generator=torch.Generator().manual_seed(2), dtype=torch.float64,
                    requires_grad=True)

    def fn(x, *params):
        return functional_call(block, dict(zip(names, params)), (x,))

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True)
    # the full (slow-mode) Jacobian with respect to the input alone
    assert torch.autograd.gradcheck(lambda x: fn(x, *params), (x,), eps=1e-6, atol=1e-6, rtol=1e-5)
