"""Affinity matrices of non-local blocks, held dense, as low-rank factors, or as a fused softmax.

Layout: every tensor is channel-first and flattened over positions, ``B x C x N`` (N = L, H*W or T*H*W), as a
1x1 convolution produces it. An affinity ``A`` is ``B x N x M`` (query positions i, key positions j), and
``A @ Z`` in the paper's position-major notation is ``Affinity.matmul(z)`` on a channel-first ``z`` (B x C x M).

The paper (Sec. 3.1) builds ``A`` in three steps: a kernel, symmetrisation ``(A + A^T) / 2`` and a normalisation.
For the dot kernel, ``A_raw = P Q^T`` with ``P = relu(X W_phi)`` and ``Q = relu(X W_psi)`` is of rank <= Cs, so the
normalised, symmetrised ``A`` is ``diag(r) (P Q^T + Q P^T) / 2 diag(c)``: ``A Z`` then costs O(N Cs^2) and never
forms N x N (see ``Affinity``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

KERNELS = ('dot', 'embedded_gaussian', 'gaussian')
NORMALIZATIONS = ('sym', 'row', 'count', 'none')
PATHS = ('auto', 'dense', 'factorised')
SOFTMAX_KERNELS = ('embedded_gaussian', 'gaussian')

# Where the factorised dot-kernel product overtakes the dense one: N > FACTORISED_CROSSOVER * Cs. The arithmetic
# (dense ~2 N^2 Cs, factorised ~4 N Cs^2 multiply-adds) puts it at N = 2 Cs, and so does the measurement
# (tools/analysis/benchmark_blocks.py --crossover --threads 1, SNL forward+backward, B = 2, C1 = 2 Cs, float32, 2-core
# CPU, docs/benchmarks.md): dense / factorised time 0.76-0.99 below N = Cs, 0.81-1.0 up to N = 2 Cs, and
# 1.14-1.21 at N = 2.25-3 Cs for Cs = 128 and 256, rising to 1.3-6x by N = 4-16 Cs. ResNet res4 at 224 px
# (N = 196, Cs = 512) stays dense; segmentation and video sizes go factorised.
FACTORISED_CROSSOVER = 2.0


@torch.jit.unused
def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f'unknown {name} {value!r}; expected one of {", ".join(map(repr, choices))}')


def safe_pow(d: Tensor, exponent: float) -> Tensor:
    """``d ** exponent`` where ``d > 0``, and 0 where ``d == 0`` (zero-degree nodes), with finite gradients."""
    positive = d > 0
    safe = torch.where(positive, d, torch.ones_like(d))
    return torch.where(positive, safe.pow(exponent), torch.zeros_like(d))


class Affinity:
    """A batch of affinity matrices ``A`` (B x N x M), in whichever form is cheapest to apply.

    Exactly one form is set:

    - ``dense``: the matrix itself, B x N x M.
    - ``left``/``right`` (B x K x N, B x K x M): the low-rank form of the dot kernel,
      ``A = scale diag(row_scale) F diag(col_scale)`` with ``F = left^T right``, or with ``symmetric``
      ``F = (left^T right + right^T left) / 2`` (N == M); the scales are B x N and B x M, or None for ones.
    - ``query``/``key`` (B x N x E, B x M x E) with ``scale``: ``A = softmax_j(query key^T * scale)``,
      applied with torch's fused ``scaled_dot_product_attention``, so N x M is never stored.

    A plain class (not a dataclass) so that TorchScript compiles it.
    """

    def __init__(self, dense: Optional[Tensor] = None, left: Optional[Tensor] = None,
                 right: Optional[Tensor] = None, row_scale: Optional[Tensor] = None,
                 col_scale: Optional[Tensor] = None, query: Optional[Tensor] = None, key: Optional[Tensor] = None,
                 scale: float = 1.0, symmetric: bool = False):
        self.dense = dense
        self.left = left
        self.right = right
        self.row_scale = row_scale
        self.col_scale = col_scale
        self.query = query
        self.key = key
        self.scale = scale
        self.symmetric = symmetric

    @property
    def form(self) -> str:
        if self.dense is not None:
            return 'dense'
        if self.left is not None:
            return 'factorised'
        return 'fused_softmax'

    # Locals below let TorchScript refine the Optional attributes.
    def matmul(self, z: Tensor) -> Tensor:
        """``A Z`` for a channel-first ``z`` (B x C x M); returns B x C x N."""
        dense, left, right = self.dense, self.left, self.right
        if dense is not None:
            return torch.bmm(z, dense.transpose(1, 2))
        if left is not None and right is not None:
            col_scale, row_scale = self.col_scale, self.row_scale
            if col_scale is not None:
                z = z * col_scale.unsqueeze(1)
            # Only the products with inner dimension N or M touch N-sized data; the scale goes on the C x K ones.
            if self.symmetric:
                zr = torch.bmm(z, right.transpose(1, 2)) * (0.5 * self.scale)
                zl = torch.bmm(z, left.transpose(1, 2)) * (0.5 * self.scale)
                out = torch.bmm(zr, left) + torch.bmm(zl, right)  # not baddbmm: mmengine's counter skips it
            else:
                out = torch.bmm(torch.bmm(z, right.transpose(1, 2)) * self.scale, left)
            if row_scale is not None:
                out = out * row_scale.unsqueeze(1)
            return out
        query, key = self.query, self.key
        assert query is not None and key is not None, 'an Affinity needs dense, left/right or query/key'
        # contiguous rows: torch's fused (flash) CPU kernel needs them, else it falls back to the N x M math path
        out = F.scaled_dot_product_attention(query, key, z.transpose(1, 2).contiguous(), scale=self.scale)
        return out.transpose(1, 2)

    def degrees(self) -> Tensor:
        """Row sums ``d_i = sum_j A_ij`` (B x N)."""
        query = self.query
        if query is not None:  # softmax rows sum to one
            return torch.ones(query.shape[0], query.shape[1], dtype=query.dtype, device=query.device)
        size = self.size()
        ref = self.dense if self.dense is not None else self.right
        assert ref is not None
        return self.matmul(torch.ones(size[0], 1, size[2], dtype=ref.dtype, device=ref.device)).squeeze(1)

    def to_dense(self) -> Tensor:
        """The B x N x M matrix (O(N M) memory: for analysis and tests, not for the fast paths)."""
        dense, left, right = self.dense, self.left, self.right
        if dense is not None:
            return dense
        if left is not None and right is not None:
            a = torch.bmm(left.transpose(1, 2), right)
            if self.symmetric:
                a = 0.5 * (a + a.transpose(1, 2))
            a = a * self.scale
            row_scale, col_scale = self.row_scale, self.col_scale
            if row_scale is not None:
                a = a * row_scale.unsqueeze(2)
            if col_scale is not None:
                a = a * col_scale.unsqueeze(1)
            return a
        query, key = self.query, self.key
        assert query is not None and key is not None
        return torch.softmax(torch.matmul(query, key.transpose(1, 2)) * self.scale, dim=-1)

    @torch.jit.unused
    def lowrank(self) -> Tuple[Tensor, Tensor]:
        """``(U, V)`` with ``A = U V`` (U: B x N x K, V: B x K x M; K = 2 Cs when symmetric), for analysis."""
        assert self.left is not None and self.right is not None, f'a {self.form} affinity has no low-rank factors'
        u, v = self.left.transpose(1, 2), self.right * self.scale
        if self.symmetric:
            u = torch.cat([u, self.right.transpose(1, 2)], dim=2)
            v = torch.cat([v, self.left * self.scale], dim=1) * 0.5
        if self.row_scale is not None:
            u = u * self.row_scale.unsqueeze(2)
        if self.col_scale is not None:
            v = v * self.col_scale.unsqueeze(1)
        return u, v

    @property
    def rank(self) -> int:
        """K of the low-rank form (0 for the other forms)."""
        left = self.left
        if left is None:
            return 0
        return left.shape[1] * 2 if self.symmetric else left.shape[1]

    def size(self) -> List[int]:
        """``[B, N, M]``."""
        dense, left, right, query, key = self.dense, self.left, self.right, self.query, self.key
        if dense is not None:
            return [dense.shape[0], dense.shape[1], dense.shape[2]]
        if left is not None and right is not None:
            return [left.shape[0], left.shape[2], right.shape[2]]
        assert query is not None and key is not None
        return [query.shape[0], query.shape[1], key.shape[1]]

    @property
    def shape(self) -> Tuple[int, int, int]:
        size = self.size()
        return (size[0], size[1], size[2])

    @torch.jit.unused
    def detach(self) -> 'Affinity':
        """A copy cut from the autograd graph (what blocks keep when recording)."""
        return Affinity(**{k: (v.detach() if isinstance(v, Tensor) else v) for k, v in vars(self).items()})


@torch.jit.unused
def check_path(path: str, kernel: str) -> None:
    """Validate a path and its fit with the kernel."""
    check_choice('path', path, PATHS)
    if path == 'factorised' and kernel in SOFTMAX_KERNELS:
        raise ValueError(f'path="factorised" needs the dot kernel: the {kernel!r} kernel (a softmax) has no '
                         'low-rank form; use path="dense" or "auto"')


def choose_path(path: str, kernel: str, num_positions: int, inter_channels: int,
                crossover: float = FACTORISED_CROSSOVER) -> str:
    """Resolve ``path='auto'`` to the cheaper of 'dense' and 'factorised' for this size; validate a forced one."""
    if not torch.jit.is_scripting():
        check_path(path, kernel)
    if path != 'auto':
        return path
    if kernel != 'dot':
        return 'dense'
    return 'factorised' if num_positions > crossover * inter_channels else 'dense'


def _normalization_scales(degrees: Tensor, normalize: str) -> Tuple[Tensor, Optional[Tensor]]:
    """Row and column scales for 'sym' (D^-1/2 A D^-1/2) and 'row' (D^-1 A) normalisation."""
    if normalize == 'sym':
        s = safe_pow(degrees, -0.5)
        return s, s
    return safe_pow(degrees, -1.0), None


def dot_affinity(p: Tensor, q: Tensor, symmetric: bool = True, normalize: str = 'sym', relu: bool = True,
                 scale: Optional[float] = None, path: str = 'auto') -> Affinity:
    """Dot-product kernel ``A = f(P) f(Q)^T`` (f = ReLU when ``relu``), optionally symmetrised and normalised.

    p: B x Cs x N (the phi embedding), q: B x Cs x M (the psi embedding); symmetrisation needs N == M.
    ``scale`` multiplies A (``use_scale``: Cs^-1/2); it cancels under 'sym' and 'row' normalisation.
    ``path`` 'dense' materialises A; 'factorised' keeps the low-rank form; 'auto' takes the cheaper.
    """
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, NORMALIZATIONS)
    if symmetric and p.shape[2] != q.shape[2]:
        raise ValueError('a symmetric affinity needs as many key as query positions, got {} and {}'.format(
            p.shape[2], q.shape[2]))
    if relu:
        p, q = F.relu(p), F.relu(q)
    if choose_path(path, 'dot', p.shape[2], p.shape[1]) == 'dense':
        a = torch.matmul(p.transpose(1, 2), q)
        if symmetric:
            a = 0.5 * (a + a.transpose(1, 2))
        if scale is not None:
            a = a * scale
        return normalize_dense(a, normalize)
    factor = 1.0 if scale is None else scale
    if normalize == 'count':  # the NL paper's dot product: A / M
        factor = factor / q.shape[2]
    raw = Affinity(left=p, right=q, scale=factor, symmetric=symmetric)
    if normalize in ('none', 'count'):
        return raw
    row, col = _normalization_scales(raw.degrees(), normalize)
    return Affinity(left=p, right=q, row_scale=row, col_scale=col, scale=factor, symmetric=symmetric)


def normalize_dense(a: Tensor, normalize: str) -> Affinity:
    """Normalise a dense non-negative affinity (B x N x M): 'sym' D^-1/2 A D^-1/2, 'row' D^-1 A, 'count' A / M."""
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, NORMALIZATIONS)
    if normalize == 'count':
        return Affinity(dense=a / a.shape[2])
    if normalize == 'none':
        return Affinity(dense=a)
    row, col = _normalization_scales(a.sum(dim=2), normalize)
    a = a * row.unsqueeze(2)
    if col is not None:
        a = a * col.unsqueeze(1)
    return Affinity(dense=a)


def softmax_affinity(theta: Tensor, phi: Tensor, scale: float = 1.0, symmetric: bool = False,
                     normalize: str = 'none', materialize: bool = False) -> Affinity:
    """Softmax kernel ``A = softmax_j(theta_i . phi_j * scale)`` (embedded Gaussian; Gaussian with raw inputs).

    theta: B x E x N, phi: B x E x M. Without symmetrisation or normalisation (NL's operator) A stays fused, to be
    applied by ``scaled_dot_product_attention`` without storing N x M, unless ``materialize``.
    """
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, NORMALIZATIONS)
    query, key = theta.transpose(1, 2), phi.transpose(1, 2)
    if not symmetric and normalize == 'none' and not materialize:
        query, key = query.contiguous(), key.contiguous()  # for the fused kernel, see Affinity.matmul
        return Affinity(query=query, key=key, scale=scale)
    a = torch.softmax(torch.matmul(query, phi) * scale, dim=-1)
    if symmetric:
        if a.shape[1] != a.shape[2]:
            raise ValueError('a symmetric affinity needs as many key as query positions')
        a = 0.5 * (a + a.transpose(1, 2))
    return normalize_dense(a, normalize)
