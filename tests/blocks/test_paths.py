"""Dense and factorised paths of the dot kernel: same outputs and same gradients (float64, rel. error < 1e-10)."""
import pytest
import torch

from . import reference as ref
from .cases import TWO_PATHS

SHAPES = [(1, (7,)), (2, (3, 5)), (3, (2, 3, 2))]


def _grads(block, x, target):
    x = x.clone().requires_grad_()
    block.zero_grad()
    y = block(x)
    (y * target).sum().backward()
    return y.detach(), x.grad, {n: p.grad.clone() for n, p in block.named_parameters()}


@pytest.mark.parametrize('dim,spatial', SHAPES, ids=[f'{d}d-{"x".join(map(str, s))}' for d, s in SHAPES])
@pytest.mark.parametrize('factory', [f for _, f in TWO_PATHS], ids=[n for n, _ in TWO_PATHS])
def test_dense_and_factorised_agree(factory, dim, spatial):
    dense = factory(path='dense', dim=dim, zero_init=False)
    if getattr(dense, 'key_pool', None) is not None:  # 2 x 2 sub-sampling: even sizes
        spatial = tuple(s + s % 2 for s in spatial)
    ref.randomize_all(dense, seed=dim, eval_mode=False)  # batch statistics: the norm sees the branch
    factorised = factory(path='factorised', dim=dim, zero_init=False).double().train()
    factorised.load_state_dict(dense.state_dict())
    gen = torch.Generator().manual_seed(len(spatial))
    x = torch.randn(2, 8, *spatial, generator=gen, dtype=torch.float64)
    target = torch.randn(x.shape, generator=gen, dtype=torch.float64)

    y_d, gx_d, gp_d = _grads(dense, x, target)
    y_f, gx_f, gp_f = _grads(factorised, x, target)
    assert ref.rel_err(y_f - x, y_d - x) < 1e-10  # the branch, not just the residual
    assert ref.rel_err(gx_f, gx_d) < 1e-10
    assert gp_d.keys() == gp_f.keys()
    for name in gp_d:
        assert gp_d[name].abs().sum() > 0, name
        assert ref.rel_err(gp_f[name], gp_d[name]) < 1e-10, name
    # the affinities themselves
    for block in (dense, factorised):
        block.record_affinity = True
        with torch.no_grad():
            block(x)
    assert dense.affinity.form == 'dense' and factorised.affinity.form == 'factorised'
    assert ref.rel_err(factorised.affinity.to_dense(), dense.affinity.dense) < 1e-10
