"""The affinity forms (dense, factorised, fused softmax) against explicit matrices built in the tests."""
import math

import pytest
import torch

from snl_plugins.ops import (FACTORISED_CROSSOVER, Affinity, choose_path, combine, dot_affinity, lowrank_affinity,
                             normalize_dense, project, safe_pow, softmax_affinity)

B, CS, N = 2, 3, 7


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=_gen(seed), dtype=torch.float64)


def _explicit_normalize(a, how):
    """Loop-free but explicit: d_i = sum_j a_ij, scale rows / columns, zero-degree rows left 0."""
    d = a.sum(dim=2)
    if how == 'none':
        return a
    if how == 'count':
        return a / a.shape[2]
    out = torch.zeros_like(a)
    for b in range(a.shape[0]):
        for i in range(a.shape[1]):
            for j in range(a.shape[2]):
                if how == 'row' and d[b, i] > 0:
                    out[b, i, j] = a[b, i, j] / d[b, i]
                if how == 'sym' and d[b, i] > 0 and d[b, j] > 0:
                    out[b, i, j] = a[b, i, j] / math.sqrt(d[b, i] * d[b, j])
    return out


def _all_forms():
    """One affinity of each form with its explicit dense matrix, computed independently of to_dense."""
    left, right = _rand(B, CS, N, seed=1), _rand(B, CS, N, seed=2)
    q, k = _rand(B, N, CS, seed=5), _rand(B, N + 2, CS, seed=6)
    dense = _rand(B, N, N + 1, seed=7)
    lowrank = torch.einsum('bki,bkj->bij', left, right)
    logits = torch.einsum('bie,bje->bij', q, k) * 0.7
    return [
        ('dense', Affinity(dense=dense), dense),
        ('factorised', Affinity(left=left, right=right), lowrank),
        ('fused_softmax', Affinity(query=q, key=k, scale=0.7), logits.exp() / logits.exp().sum(-1, keepdim=True)),
    ]


@pytest.mark.parametrize('name,aff,expected', _all_forms(), ids=[f[0] for f in _all_forms()])
def test_forms_dense_degrees_matmul(name, aff, expected):
    assert aff.form == name
    assert aff.shape == tuple(expected.shape)
    torch.testing.assert_close(aff.to_dense(), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(aff.degrees(), expected.sum(dim=2), rtol=1e-12, atol=1e-12)
    z = _rand(B, 4, expected.shape[2], seed=8)  # channel-first B x C x M
    torch.testing.assert_close(aff.matmul(z), torch.einsum('bij,bcj->bci', expected, z), rtol=1e-12, atol=1e-12)
    detached = aff.detach()
    assert detached.form == aff.form
    torch.testing.assert_close(detached.to_dense(), expected, rtol=1e-12, atol=1e-12)


def test_detach_cuts_the_graph():
    left = _rand(B, CS, N).requires_grad_()
    aff = Affinity(left=left, right=_rand(B, CS, N, seed=1))
    assert aff.left.requires_grad
    d = aff.detach()
    assert not d.left.requires_grad and d.dense is None


@pytest.mark.parametrize('normalize', ['sym', 'row', 'none'])
@pytest.mark.parametrize('symmetric', [True, False])
def test_lowrank_affinity_is_balanced_and_exact(normalize, symmetric):
    """The normalisation folded into the factors gives the explicit matrix; each right row has unit mass."""
    left, right = _rand(B, CS, N, seed=1).abs(), _rand(B, CS, N, seed=2).abs()
    a = torch.einsum('bki,bkj->bij', left, right) * 0.3
    if symmetric:
        a = 0.5 * (a + a.transpose(1, 2))
    aff = lowrank_affinity(left, right, normalize, 0.3, symmetric)
    assert aff.rank == (2 * CS if symmetric else CS)
    torch.testing.assert_close(aff.to_dense(), _explicit_normalize(a, normalize), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(aff.right.sum(2), torch.ones(B, aff.rank, dtype=torch.float64))


@pytest.mark.parametrize('normalize', ['sym', 'row', 'count', 'none'])
@pytest.mark.parametrize('symmetric', [True, False])
@pytest.mark.parametrize('relu', [True, False])
@pytest.mark.parametrize('scale', [None, 0.3])
def test_dot_affinity_paths_match_explicit(normalize, symmetric, relu, scale):
    p, q = _rand(B, CS, N, seed=11), _rand(B, CS, N, seed=12)
    pp, qq = (p.clamp_min(0), q.clamp_min(0)) if relu else (p, q)
    a = torch.einsum('bki,bkj->bij', pp, qq)
    if symmetric:
        a = 0.5 * (a + a.transpose(1, 2))
    if scale is not None:
        a = a * scale
    expected = _explicit_normalize(a, normalize)
    z = _rand(B, 5, N, seed=13)
    for path in ('dense', 'factorised'):
        aff = dot_affinity(p, q, symmetric=symmetric, normalize=normalize, relu=relu, scale=scale, path=path)
        assert aff.form == path
        torch.testing.assert_close(aff.to_dense(), expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(aff.degrees(), expected.sum(2), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(aff.matmul(z), torch.einsum('bij,bcj->bci', expected, z), rtol=1e-12,
                                   atol=1e-12)


def test_dot_affinity_non_square_and_errors():
    p, q = _rand(B, CS, N), _rand(B, CS, N + 3, seed=1)
    for path in ('dense', 'factorised'):
        aff = dot_affinity(p, q, symmetric=False, normalize='row', path=path)
        assert aff.shape == (B, N, N + 3)
        torch.testing.assert_close(aff.degrees()[aff.degrees() > 0], torch.ones_like(aff.degrees())[aff.degrees() > 0])
    with pytest.raises(ValueError, match='symmetric affinity needs as many key as query positions'):
        dot_affinity(p, q, symmetric=True)
    with pytest.raises(ValueError, match="unknown normalize 'l2'"):
        dot_affinity(p, p, normalize='l2')
    with pytest.raises(ValueError, match="unknown path 'sparse'"):
        dot_affinity(p, p, path='sparse')


def test_zero_degree_rows_are_left_zero():
    p = _rand(1, CS, N)
    p[..., :2] = -1.0  # positions 0 and 1: relu(p_i) = 0 and (q = p) relu(q_i) = 0 -> zero degree
    for normalize in ('sym', 'row'):
        for path in ('dense', 'factorised'):
            a = dot_affinity(p, p, normalize=normalize, path=path).to_dense()
            assert torch.isfinite(a).all()
            assert (a[0, :2] == 0).all() and (a[0, :, :2] == 0).all()
            assert (a[0, 2:].sum(-1) > 0).all()


@pytest.mark.parametrize('normalize', ['sym', 'row', 'count', 'none'])
def test_normalize_dense(normalize):
    a = torch.rand(B, N, N, generator=_gen(), dtype=torch.float64)
    a[0, 3] = 0.0  # a zero row
    a[0, :, 3] = 0.0
    expected = _explicit_normalize(a, normalize)
    torch.testing.assert_close(normalize_dense(a, normalize).dense, expected, rtol=1e-12, atol=1e-12)
    if normalize == 'row':
        d = normalize_dense(a, normalize).degrees()
        torch.testing.assert_close(d[0, 3], torch.tensor(0.0, dtype=torch.float64))
        torch.testing.assert_close(d[1], torch.ones(N, dtype=torch.float64))


@pytest.mark.parametrize('symmetric', [False, True])
@pytest.mark.parametrize('normalize', ['none', 'row', 'sym'])
def test_softmax_affinity(symmetric, normalize):
    theta, phi = _rand(B, CS, N), _rand(B, CS, N, seed=1)
    logits = torch.einsum('bei,bej->bij', theta, phi) * 0.5
    a = logits.exp() / logits.exp().sum(-1, keepdim=True)
    if symmetric:
        a = 0.5 * (a + a.transpose(1, 2))
    expected = _explicit_normalize(a, normalize)
    fused = softmax_affinity(theta, phi, scale=0.5, symmetric=symmetric, normalize=normalize)
    assert fused.form == ('fused_softmax' if not symmetric and normalize == 'none' else 'dense')
    dense = softmax_affinity(theta, phi, scale=0.5, symmetric=symmetric, normalize=normalize, materialize=True)
    assert dense.form == 'dense'
    z = _rand(B, 4, N, seed=2)
    for aff in (fused, dense):
        torch.testing.assert_close(aff.to_dense(), expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(aff.matmul(z), torch.einsum('bij,bcj->bci', expected, z), rtol=1e-10, atol=1e-12)


def test_safe_pow_values_and_finite_gradients_at_zero():
    for exponent in (-0.5, -1.0):
        d = torch.tensor([0.0, 1.0, 4.0, -2.0], dtype=torch.float64, requires_grad=True)
        out = safe_pow(d, exponent)
        torch.testing.assert_close(out.detach(), torch.tensor([0.0, 1.0, 4.0 ** exponent, 0.0], dtype=torch.float64))
        out.sum().backward()
        assert torch.isfinite(d.grad).all()
        torch.testing.assert_close(d.grad, torch.tensor([0.0, exponent, exponent * 4.0 ** (exponent - 1), 0.0],
                                                        dtype=torch.float64))
    # through a whole normalised affinity with zero degrees everywhere
    p = torch.zeros(1, CS, N, dtype=torch.float64, requires_grad=True)
    for path in ('dense', 'factorised'):
        dot_affinity(p, p, normalize='sym', path=path).matmul(_rand(1, 2, N)).sum().backward()
        assert torch.isfinite(p.grad).all()


def test_choose_path():
    assert choose_path('dense', 'dot', 10 ** 6, 1) == 'dense'
    assert choose_path('factorised', 'dot', 1, 10 ** 6) == 'factorised'
    assert choose_path('auto', 'embedded_gaussian', 10 ** 6, 1) == 'dense'
    cs = 16
    assert choose_path('auto', 'dot', int(FACTORISED_CROSSOVER * cs) + 1, cs) == 'factorised'
    assert choose_path('auto', 'dot', max(int(FACTORISED_CROSSOVER * cs) - 1, 1), cs) == 'dense'
    for kernel in ('embedded_gaussian', 'gaussian'):
        with pytest.raises(ValueError, match=f'path="factorised" needs the dot kernel.*{kernel}'):
            choose_path('factorised', kernel, 10, 10)
    with pytest.raises(ValueError, match="unknown path 'fast'"):
        choose_path('fast', 'dot', 10, 10)


def test_project_and_combine():
    x = _rand(B, 6, N)
    w1, w2 = _rand(3, 6, seed=1), _rand(2, 6, 1, 1, seed=2)  # a matrix and a 1x1 conv kernel
    a, b = project(x, [w1, w2])
    torch.testing.assert_close(a, torch.einsum('oc,bcn->bon', w1, x))
    torch.testing.assert_close(b, torch.einsum('oc,bcn->bon', w2[:, :, 0, 0], x))
    (only,) = project(x, [w1])
    torch.testing.assert_close(only, a)
    t1, t2 = _rand(B, 3, N, seed=3), _rand(B, 2, N, seed=4)
    v1, v2 = _rand(6, 3, seed=5), _rand(6, 2, 1, seed=6)
    torch.testing.assert_close(combine([t1, t2], [v1, v2]),
                               torch.einsum('oc,bcn->bon', v1, t1) + torch.einsum('oc,bcn->bon', v2[..., 0], t2))
    torch.testing.assert_close(combine([t1], [v1]), torch.einsum('oc,bcn->bon', v1, t1))
    with pytest.raises(ValueError, match='2 terms but 1 weights'):
        combine([t1, t2], [v1])


def test_auto_path_at_the_papers_sizes():
    """ResNet res4 at 224 px (N = 196, Cs = 512) stays dense; segmentation / video sizes go factorised."""
    assert choose_path('auto', 'dot', 14 * 14, 512) == 'dense'
    assert choose_path('auto', 'dot', 64 * 64, 256) == 'factorised'
    assert choose_path('auto', 'dot', 8 * 28 * 28, 512) == 'factorised'
