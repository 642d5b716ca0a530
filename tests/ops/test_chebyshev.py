"""Chebyshev polynomials of affinities (Eq. 5) and the piecewise terms of Appendix B."""
import numpy as np
import pytest
import torch

from snl_plugins.ops import Affinity, chebyshev_matrix, chebyshev_terms, dot_affinity


def _sym_normalised(seed=0, n=6):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(2, 3, n, generator=g, dtype=torch.float64).abs()
    return dot_affinity(p, p.flip(1), normalize='sym', path='dense').dense  # eigenvalues in [-1, 1]


@pytest.mark.parametrize('k', range(7))
def test_chebyshev_matrix_is_cos_k_arccos_on_the_spectrum(k):
    """T_k(cos t) = cos(k t): on a symmetric A with spectrum in [-1, 1], T_k(A) = V cos(k arccos L) V^T."""
    a = _sym_normalised()
    expected = []
    for m in a.numpy():
        lam, vec = np.linalg.eigh(m)
        lam = np.clip(lam, -1.0, 1.0)
        expected.append(vec @ np.diag(np.cos(k * np.arccos(lam))) @ vec.T)
    torch.testing.assert_close(chebyshev_matrix(a, k), torch.from_numpy(np.stack(expected)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('k', range(6))
def test_chebyshev_matrix_power_series(k):
    """Any square A (not symmetric): T_k(A) = sum_j c_kj A^j with numpy's Chebyshev-to-power coefficients."""
    a = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.5
    coeffs = np.polynomial.chebyshev.cheb2poly([0] * k + [1])
    expected = sum(c * torch.linalg.matrix_power(a, j) for j, c in enumerate(coeffs))
    torch.testing.assert_close(chebyshev_matrix(a, k), expected, rtol=1e-10, atol=1e-10)


def test_appendix_b_idempotent_cycle():
    """For A^2 = A (the stable hypothesis), T_k(A) cycles I, A, 2A - I, A, I, ... (Appendix B)."""
    g = torch.Generator().manual_seed(2)
    # a non-symmetric idempotent: M (N M)^-1 N with M n x r, N r x n
    m, n = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(2, 5, generator=g, dtype=torch.float64)
    a = (m @ torch.linalg.inv(n @ m) @ n)[None]
    torch.testing.assert_close(a @ a, a)
    eye = torch.eye(5, dtype=torch.float64)[None]
    cycle = [eye, a, 2 * a - eye, a]
    for k in range(9):
        torch.testing.assert_close(chebyshev_matrix(a, k), cycle[k % 4], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('order', [1, 2])
def test_chebyshev_terms(order):
    """[Z, A Z] and, for gSNL, the piecewise (2A - I) Z (Eq. 11), which is T_2(A) Z only where A^2 = A."""
    a = _sym_normalised(3)
    z = torch.randn(2, 4, a.shape[2], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    terms = chebyshev_terms(Affinity(dense=a), z, order)
    eye = torch.eye(a.shape[1], dtype=torch.float64)
    expected = [eye, a, 2 * a - eye][:order + 1]
    assert len(terms) == order + 1
    for term, mat in zip(terms, expected):
        torch.testing.assert_close(term, torch.einsum('bij,bcj->bci', mat.expand_as(a), z))


def test_chebyshev_terms_full_order_under_the_stable_hypothesis():
    """With an idempotent A (orthogonal projection) the gSNL terms are exactly T_0, T_1, T_2 applied to Z."""
    g = torch.Generator().manual_seed(4)
    q, _ = torch.linalg.qr(torch.randn(6, 2, generator=g, dtype=torch.float64))
    a = (q @ q.T)[None]
    z = torch.randn(1, 3, 6, generator=g, dtype=torch.float64)
    for k, term in enumerate(chebyshev_terms(Affinity(dense=a), z, 2)):
        torch.testing.assert_close(term, torch.einsum('bij,bcj->bci', chebyshev_matrix(a, k), z))


def test_chebyshev_errors():
    a = torch.eye(3)[None]
    with pytest.raises(ValueError, match='order must be 1 .* or 2'):
        chebyshev_terms(Affinity(dense=a), torch.ones(1, 1, 3), 3)
    with pytest.raises(ValueError, match='k must be >= 0'):
        chebyshev_matrix(a, -1)
    t0 = chebyshev_matrix(a, 0)
    t0 += 1  # T_0 is a fresh tensor, not a view of a shared identity
    torch.testing.assert_close(chebyshev_matrix(a, 0), a)
