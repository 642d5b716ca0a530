"""Affinity matrices of non-local blocks, held dense, as low-rank factors, or as a fused softmax.

Layout: every tensor is channel-first and flattened over positions, ``B x C x N`` (N = L, H*W or T*H*W), as a
1x1 convolution produces it. An affinity ``A`` is ``B x N x M`` (query positions i, key positions j), and
``A @ Z`` in the paper's position-major notation is ``Affinity.matmul(z)`` on a channel-first ``z`` (B x C x M).

The paper (Sec. 3.1) builds ``A`` in three steps: a kernel, symmetrisation ``(A + A^T) / 2`` and a normalisation.
For the dot kernel, ``A_raw = P Q^T`` with ``P = relu(X W_phi)`` and ``Q = relu(X W_psi)`` is of rank <= Cs, so the
normalised, symmetrised ``A`` is ``diag(r) (P Q^T + Q P^T) / 2 diag(c)``: ``A Z`` then costs O(N Cs^2) and never
forms N x N (``lowrank_affinity``, which also says how every form holds in float16 / bfloat16).
"""
import os
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

# The largest dense affinity formed before refusing, in GiB for one B x N x M copy (a forward + backward holds
# several); the environment variable sets it. 4 GiB: N = 32768 (e.g. 8 x 64 x 64) at batch 1 in float32.
DENSE_LIMIT_ENV = 'SNL_DENSE_LIMIT_GIB'
DEFAULT_DENSE_LIMIT_GIB = 4.0


class DenseAffinityTooLarge(ValueError):
    """A dense affinity above the limit (``DENSE_LIMIT_ENV``)."""


@torch.jit.unused
def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f'unknown {name} {value!r}; expected one of {", ".join(map(repr, choices))}')


def safe_pow(d: Tensor, exponent: float) -> Tensor:
    """``d ** exponent`` where ``d > 0``, and 0 where ``d == 0`` (zero-degree nodes), with finite gradients."""
    positive = d > 0
    safe = torch.where(positive, d, torch.ones_like(d))
    return torch.where(positive, safe.pow(exponent), torch.zeros_like(d))


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype in which degrees and scales are formed: float32 for float16 / bfloat16, else the dtype itself."""
    return torch.promote_types(dtype, torch.float32)


def low_precision(x: Tensor) -> bool:
    """Whether ``x``'s operations run in float16 / bfloat16: its dtype, or autocast on its device."""
    return accumulation_dtype(x.dtype) != x.dtype or torch.is_autocast_enabled(x.device.type)


class Affinity:
    """A batch of affinity matrices ``A`` (B x N x M), in whichever form is cheapest to apply.

    Exactly one form is set:

    - ``dense``: the matrix itself, B x N x M.
    - ``left``/``right`` (B x K x N, B x K x M): a low-rank form, ``A = left^T right``; ``lowrank_affinity`` builds
      it from the dot kernel's factors with its symmetrisation and normalisation folded in.
    - ``query``/``key`` (B x N x E, B x M x E) with ``scale``: ``A = softmax_j(query key^T * scale)``,
      applied with torch's fused ``scaled_dot_product_attention``, so N x M is never stored.

    A plain class (not a dataclass) so that TorchScript compiles it.
    """

    def __init__(self, dense: Optional[Tensor] = None, left: Optional[Tensor] = None,
                 right: Optional[Tensor] = None, query: Optional[Tensor] = None, key: Optional[Tensor] = None,
                 scale: float = 1.0):
        self.dense = dense
        self.left = left
        self.right = right
        self.query = query
        self.key = key
        self.scale = scale

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
            # Only the two products with inner dimension M or K: O((N + M) K C), never N x M.
            return torch.bmm(torch.bmm(z, right.transpose(1, 2)), left)
        query, key = self.query, self.key
        assert query is not None and key is not None, 'an Affinity needs dense, left/right or query/key'
        # contiguous rows: torch's fused (flash) CPU kernel needs them, else it falls back to the N x M math path
        out = F.scaled_dot_product_attention(query, key, z.transpose(1, 2).contiguous(), scale=self.scale)
        return out.transpose(1, 2)

    def degrees(self) -> Tensor:
        """Row sums ``d_i = sum_j A_ij`` (B x N)."""
        dense, left, right, query = self.dense, self.left, self.right, self.query
        if dense is not None:
            return dense.sum(dim=2)
        if left is not None and right is not None:
            return torch.bmm(right.sum(dim=2).unsqueeze(1), left).squeeze(1)
        assert query is not None
        return torch.ones(query.shape[0], query.shape[1], dtype=query.dtype, device=query.device)  # softmax rows

    def to_dense(self) -> Tensor:
        """The B x N x M matrix (O(N M) memory: for analysis and tests, not for the fast paths)."""
        dense, left, right = self.dense, self.left, self.right
        if dense is not None:
            return dense
        if left is not None and right is not None:
            return torch.bmm(left.transpose(1, 2), right)
        query, key = self.query, self.key
        assert query is not None and key is not None
        return torch.softmax(torch.matmul(query, key.transpose(1, 2)) * self.scale, dim=-1)

    @torch.jit.unused
    def lowrank(self) -> Tuple[Tensor, Tensor]:
        """``(U, V)`` with ``A = U V`` (U: B x N x K, V: B x K x M), for analysis."""
        assert self.left is not None and self.right is not None, f'a {self.form} affinity has no low-rank factors'
        return self.left.transpose(1, 2), self.right

    @property
    def rank(self) -> int:
        """K of the low-rank form (0 for the other forms)."""
        left = self.left
        return 0 if left is None else left.shape[1]

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
    def to(self, dtype: torch.dtype) -> 'Affinity':
        """The same affinity with its tensors in ``dtype``."""
        return Affinity(**{k: (v.to(dtype) if isinstance(v, Tensor) else v) for k, v in vars(self).items()})

    @torch.jit.unused
    def detach(self) -> 'Affinity':
        """A copy cut from the autograd graph (what blocks keep when recording)."""
        return Affinity(**{k: (v.detach() if isinstance(v, Tensor) else v) for k, v in vars(self).items()})


@torch.jit.unused
def check_dense_size(batch: int, n: int, m: int, dtype: torch.dtype, what: str) -> None:
    """Refuse to form a B x N x M affinity of ``dtype`` (float32 at least: low-precision logits are formed in
    float32) above the limit, saying its size and the alternatives."""
    if not all(type(size) is int for size in (batch, n, m)):
        return  # symbolic sizes (torch.export, dynamic axes): no Python comparison to keep in the graph
    limit = float(os.environ.get(DENSE_LIMIT_ENV, DEFAULT_DENSE_LIMIT_GIB))
    gib = batch * n * m * max(torch.finfo(dtype).bits, 32) / 8 / 2 ** 30
    if gib > limit:
        raise DenseAffinityTooLarge(
            f'{what} would form a dense {batch} x {n} x {m} affinity: {gib:.3g} GiB per copy (a forward + backward '
            f'holds several), above the limit of {limit:g} GiB ({DENSE_LIMIT_ENV} sets it). Alternatives: the dot '
            'kernel with path="factorised" or "auto" (O(N Cs^2), never N x N); a softmax kernel without '
            'symmetrisation or normalisation, which runs fused (NL\'s operator, N x N never stored); sub-sampled '
            'keys (NL(sub_sample=True)); or a smaller input')


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


def _max_scale(t: Tensor) -> Tensor:
    """Each sample's largest magnitude (B x 1 x 1, ones where a sample is all zero), cut from the graph: dividing a
    factor by it changes no normalised result, and scaling back by it is exact (see the module notes)."""
    m = t.detach().abs().amax(dim=(1, 2), keepdim=True)
    return torch.where(m > 0, m, torch.ones_like(m))


def lowrank_affinity(left: Tensor, right: Tensor, normalize: str = 'none', scale: float = 1.0,
                     symmetric: bool = False) -> Affinity:
    """``A = norm(scale F)`` with ``F = left^T right`` (or ``(left^T right + right^T left) / 2`` when ``symmetric``),
    returned as two balanced factors ``A = L^T R`` (B x K x N, B x K x M; K doubles when symmetric).

    left: B x K x N, right: B x K x M. ``normalize``: 'sym' ``D^-1/2 A D^-1/2``, 'row' ``D^-1 A`` (degrees
    ``d = A 1`` from the factors in O(N K)), 'none'. The diagonal scales are folded into the factors, and each
    rank-one term ``l_k r_k^T`` is rebalanced by ``beta_k = sum_j |r_kj|``: ``R`` then has rows of unit mass.

    Mixed precision: with float16 the degrees (sums over M of products over K) overflow, ``d^-1/2`` leaves its
    range and a ``Z R^T`` over 10^4 positions overflows, although the normalised ``A Z`` itself is of Z's size.
    So the degrees, scales and rebalancing are formed in float32 (O(N K) element-wise work and memory, a few
    passes, which autocast leaves in float32; see ``accumulation_dtype``), and only the two O(N K C) products run
    in the input's dtype. After rebalancing, ``Z R^T`` is a weighted mean of Z's columns (weights of total mass 1
    for non-negative factors), and ``L`` holds A's row mass (``sum_k L_ki = d_i`` when R >= 0; 1 under 'row'):
    neither product can leave float16's range unless Z or A Z does. ``beta`` is cut from the graph: ``L^T R``
    does not depend on it, so gradients are exact. In float32 and float64 the same code runs, with no extra rounding
    of note.
    """
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, ('sym', 'row', 'none'))
    if symmetric:
        if left.shape[2] != right.shape[2]:
            raise ValueError('a symmetric affinity needs as many key as query positions, got {} and {}'.format(
                left.shape[2], right.shape[2]))
        left, right = torch.cat([left, right], dim=1), torch.cat([right, left], dim=1)
        scale = 0.5 * scale
    dtype = left.dtype
    u, v = left.to(accumulation_dtype(dtype)), right.to(accumulation_dtype(dtype)) * scale
    if normalize != 'none':
        # element-wise, not bmm: autocast would run a bmm in float16
        row, col = _normalization_scales((u * v.sum(dim=2, keepdim=True)).sum(dim=1), normalize)
        u = u * row.unsqueeze(1)
        if col is not None:
            v = v * col.unsqueeze(1)
    mass = v.detach().abs().sum(dim=2, keepdim=True)
    mass = torch.where(mass > 0, mass, torch.ones_like(mass))
    return Affinity(left=(u * mass).to(dtype), right=(v / mass).to(dtype))


def dot_affinity(p: Tensor, q: Tensor, symmetric: bool = True, normalize: str = 'sym', relu: bool = True,
                 scale: Optional[float] = None, path: str = 'auto') -> Affinity:
    """Dot-product kernel ``A = f(P) f(Q)^T`` (f = ReLU when ``relu``), optionally symmetrised and normalised.

    p: B x Cs x N (the phi embedding), q: B x Cs x M (the psi embedding); symmetrisation needs N == M.
    ``scale`` multiplies A (``use_scale``: Cs^-1/2); it cancels under 'sym' and 'row' normalisation.
    ``path`` 'dense' materialises A; 'factorised' keeps the low-rank form (``lowrank_affinity``); 'auto' takes
    the cheaper. Both hold in float16 / bfloat16 (see ``lowrank_affinity`` and ``normalize_dense``).
    """
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, NORMALIZATIONS)
    if symmetric and p.shape[2] != q.shape[2]:
        raise ValueError('a symmetric affinity needs as many key as query positions, got {} and {}'.format(
            p.shape[2], q.shape[2]))
    if relu:
        p, q = F.relu(p), F.relu(q)
    factor = 1.0 if scale is None else scale
    if normalize == 'count':  # the NL paper's dot product: A / M
        factor = factor / q.shape[2]
    if choose_path(path, 'dot', p.shape[2], p.shape[1]) == 'dense':
        if not torch.jit.is_scripting():
            check_dense_size(p.shape[0], p.shape[2], q.shape[2], p.dtype, 'the dot kernel with path="dense"')
        # Each factor divided by its largest entry: the N x M product stays within float16's range.
        p_max, q_max = _max_scale(p), _max_scale(q)
        a = torch.matmul((p / p_max).transpose(1, 2), q / q_max)
        if symmetric:
            a = 0.5 * (a + a.transpose(1, 2))
        acc = accumulation_dtype(a.dtype)
        return normalize_dense(a, 'none' if normalize == 'count' else normalize,
                               p_max.to(acc) * q_max.to(acc) * factor)
    return lowrank_affinity(p, q, 'none' if normalize == 'count' else normalize, factor, symmetric)


def normalize_dense(a: Tensor, normalize: str, scale: Optional[Tensor] = None) -> Affinity:
    """Normalise a dense non-negative affinity ``scale * a`` (B x N x M; ``scale`` B x 1 x 1 or None for 1):
    'sym' D^-1/2 A D^-1/2, 'row' D^-1 A, 'count' A / M, 'none'.

    'sym' and 'row' do not depend on ``scale``, and their degrees and scales are formed in float32 for float16 /
    bfloat16 ``a`` (a row sum of N entries can overflow); 'none' and 'count' multiply by it.
    """
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, NORMALIZATIONS)
    if normalize == 'none' or normalize == 'count':
        factor = torch.ones(1, 1, 1, dtype=accumulation_dtype(a.dtype), device=a.device) if scale is None else scale
        if normalize == 'count':
            factor = factor / a.shape[2]
        return Affinity(dense=(a * factor).to(a.dtype))
    row, col = _normalization_scales(a.sum(dim=2, dtype=accumulation_dtype(a.dtype)), normalize)
    a = a * row.to(a.dtype).unsqueeze(2)
    if col is not None:
        a = a * col.to(a.dtype).unsqueeze(1)
    return Affinity(dense=a)


def softmax_affinity(theta: Tensor, phi: Tensor, scale: float = 1.0, symmetric: bool = False,
                     normalize: str = 'none', materialize: bool = False) -> Affinity:
    """Softmax kernel ``A = softmax_j(theta_i . phi_j * scale)`` (embedded Gaussian; Gaussian with raw inputs).

    theta: B x E x N, phi: B x E x M. Without symmetrisation or normalisation (NL's operator) A stays fused, to be
    applied by ``scaled_dot_product_attention`` (which accumulates in float32 for float16 / bfloat16) without
    storing N x M, unless ``materialize``. Materialised, the logits come from the max-scaled embeddings (in range
    in float16) and the softmax runs in float32.
    """
    if not torch.jit.is_scripting():
        check_choice('normalize', normalize, NORMALIZATIONS)
    query, key = theta.transpose(1, 2), phi.transpose(1, 2)
    if not symmetric and normalize == 'none' and not materialize:
        query, key = query.contiguous(), key.contiguous()  # for the fused kernel, see Affinity.matmul
        return Affinity(query=query, key=key, scale=scale)
    if not torch.jit.is_scripting():
        check_dense_size(theta.shape[0], theta.shape[2], phi.shape[2], theta.dtype,
                         'a softmax kernel with symmetrisation, normalisation or path="dense"')
    q_max, k_max = _max_scale(theta), _max_scale(phi)
    acc = accumulation_dtype(theta.dtype)
    logits = torch.matmul(query / q_max, phi / k_max).to(acc)
    a = torch.softmax(logits * (q_max.to(acc) * k_max.to(acc) * scale), dim=-1).to(theta.dtype)
    if symmetric:
        if a.shape[1] != a.shape[2]:
            raise ValueError('a symmetric affinity needs as many key as query positions')
        a = 0.5 * (a + a.transpose(1, 2))
    return normalize_dense(a, normalize)
