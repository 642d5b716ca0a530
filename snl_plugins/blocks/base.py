"""The dimension-generic base of every non-local block, and the affinity embedding (phi, psi) they share."""
import math
import numbers
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import (KERNELS, NORMALIZATIONS, SOFTMAX_KERNELS, Affinity, accumulation_dtype, check_choice,
                   dot_affinity, low_precision, project, softmax_affinity)
from ..ops.affinity import check_path
from .norm import build_block_norm

_CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_SPATIAL = {1: 'L', 2: 'H x W', 3: 'T x H x W'}


def positive_int(value) -> bool:
    """An int >= 1 (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def resolve_inter_channels(in_channels: int, reduction: float, inter_channels: Optional[int]) -> int:
    """Cs: ``inter_channels``, else ``in_channels // reduction``; refused where either is not a positive int."""
    if not positive_int(in_channels):
        raise ValueError(f'in_channels must be a positive int, got {in_channels!r}')
    if inter_channels is not None:
        if not positive_int(inter_channels):
            raise ValueError(f'inter_channels must be a positive int, got {inter_channels!r}')
        return int(inter_channels)
    if isinstance(reduction, bool) or not isinstance(reduction, numbers.Real) or reduction <= 0:
        raise ValueError(f'reduction must be a positive number, got {reduction!r}')
    if in_channels // reduction < 1:
        raise ValueError(f'reduction={reduction:g} leaves no channels of in_channels={in_channels} '
                         f'(Cs = {in_channels / reduction:.3g}): use reduction <= {in_channels} or set inter_channels')
    return int(in_channels // reduction)


def call_in_dtype(module: nn.Module, x: Tensor, *args) -> Tensor:
    """``module(x, *args)`` with the module's floating parameters and buffers taken in ``x``'s dtype (a float16
    module run in float32); gradients reach the module's own parameters, updated buffers (running statistics) are
    written back."""
    tensors = dict(module.named_parameters())
    buffers = dict(module.named_buffers())
    tensors.update(buffers)
    if all(t.dtype == x.dtype for t in tensors.values() if t.is_floating_point()):
        return module(x, *args)
    cast = {k: (t.to(x.dtype) if t.is_floating_point() else t) for k, t in tensors.items()}
    out = torch.func.functional_call(module, cast, (x, *args))
    with torch.no_grad():
        for k, t in buffers.items():
            if t.is_floating_point():
                t.copy_(cast[k])
    return out


class NonlocalModule(nn.Module):
    """What every non-local block and stage shares, for 1D / 2D / 3D inputs (B x C x L | H x W | T x H x W): the
    channels and dimensionality, the input checks, the dtype policy of mixed precision and affinity recording.

    ``forward`` checks the input, runs in float32 where ``float32_branch`` says so, and otherwise returns
    ``residual(x, affinity)``, which subclasses implement: :class:`NonlocalBlock` (one branch, a norm and the
    residual) and ``NonlocalStage`` (units sharing one affinity).

    Set ``record_affinity = True`` to keep the affinity of the last forward in ``self.affinity`` (detached; see
    ``snl_plugins.ops.Affinity``); nothing is kept, or materialised, otherwise.
    """

    # True where the branch's values before the norm grow beyond float16's range with the input's scale (CGNL's
    # Taylor kernel, unnormalised dot kernels: cubic in it), although the norm then removes that scale, or where a
    # signed affinity's degrees can vanish: such a block runs in float32 for float16 / bfloat16 inputs
    # (``forward_float32``). Every other block runs in the input's dtype, its affinity kept in range by
    # ``snl_plugins.ops.lowrank_affinity`` / ``normalize_dense``.
    float32_branch = False

    def __init__(self, in_channels: int, *, reduction: float = 2, inter_channels: Optional[int] = None,
                 dim: int = 2):
        super().__init__()
        if dim not in _CONVS:
            raise ValueError(f'dim must be 1, 2 or 3 (B x C x L, B x C x H x W, B x C x T x H x W), got {dim!r}')
        self.in_channels = in_channels
        self.inter_channels = resolve_inter_channels(in_channels, reduction, inter_channels)
        self.dim = dim
        self.record_affinity = False
        self.affinity: Optional[Affinity] = None

    def conv1x1(self, in_channels: int, out_channels: int, groups: int = 1) -> nn.Module:
        return _CONVS[self.dim](in_channels, out_channels, kernel_size=1, groups=groups, bias=False)

    @torch.jit.unused
    def check_input(self, x) -> None:
        name = type(self).__name__
        if not torch.is_tensor(x):
            raise TypeError(f'{name} expects a tensor, got {type(x).__name__}')
        if x.dim() != self.dim + 2:
            raise ValueError(f'{name}(dim={self.dim}) expects a {self.dim + 2}-D input B x C x {_SPATIAL[self.dim]}, '
                             f'got a {x.dim()}-D tensor of shape {tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'{name} was built with in_channels={self.in_channels}, but the input has {x.shape[1]} '
                             f'channels (shape {tuple(x.shape)})')
        positions = math.prod(x.shape[2:])
        if self.training and x.shape[0] * positions == 1 and any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.modules()):
            raise ValueError(f'{name} in training mode got one sample of one position (shape {tuple(x.shape)}): '
                             'its batch norm needs more than one value per channel; train on more samples or '
                             'positions, or call eval()')
        param = next(self.parameters(), None)
        if param is not None and x.dtype != param.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(f'{name} holds {param.dtype} parameters but got a {x.dtype} input outside '
                            f'torch.autocast: convert one to the other (x.to({param.dtype}) or '
                            f'block.to({x.dtype})), or run under torch.autocast')

    @torch.jit.unused
    def keep_affinity(self, affinity: Affinity) -> None:
        if self.record_affinity:
            self.affinity = affinity.detach()

    @torch.jit.unused
    def forward_float32(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        """``forward`` in float32 for a float16 / bfloat16 ``x`` (see ``float32_branch``), output in x's dtype."""
        acc = accumulation_dtype(x.dtype)
        with torch.autocast(x.device.type, enabled=False):
            y = call_in_dtype(self, x.to(acc), None if affinity is None else affinity.to(acc))
        return y.to(x.dtype)

    def residual(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        if not torch.jit.is_scripting():  # TorchScript cannot compile the message formatting
            self.check_input(x)
            if self.float32_branch and low_precision(x):
                return self.forward_float32(x, affinity)
        return self.residual(x, affinity)


class NonlocalBlock(NonlocalModule):
    """``Y = X + act(norm(branch(X)))``: one non-local branch, its norm and the residual.

    Subclasses hold their projections and implement ``branch``, which returns a tensor shaped like ``x``. The norm
    (BatchNorm of the input's dimensionality by default) is zero-initialised so that the block starts as the
    identity (``zero_init``), which keeps a pretrained host's outputs unchanged when a block is inserted.

    A ReLU after a zero-initialised norm would give every parameter of the block exactly zero gradient forever
    (ReLU'(0) = 0; the trap in the authors' ImageNet code), so ``relu=True`` starts the norm at weight 1 instead
    (the block is then not the identity at initialisation), and asking for both raises.
    """

    def __init__(self, in_channels: int, *, reduction: float = 2, inter_channels: Optional[int] = None,
                 dim: int = 2, norm_cfg: Optional[dict] = None, relu: bool = False,
                 zero_init: Optional[bool] = None):
        super().__init__(in_channels, reduction=reduction, inter_channels=inter_channels, dim=dim)
        self.relu, self.zero_init = check_start(relu, zero_init)
        self.norm = build_block_norm(norm_cfg, in_channels, dim)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, tuple(_CONVS.values())):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if getattr(self.norm, 'weight', None) is not None:
            nn.init.constant_(self.norm.weight, 0.0 if self.zero_init else 1.0)
            nn.init.zeros_(self.norm.bias)

    def branch(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        raise NotImplementedError

    def residual(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        out = self.norm(self.branch(x, affinity))
        if self.relu:
            out = F.relu(out)
        return x + out.to(x.dtype)  # under autocast the branch may come out in another dtype than x

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, inter_channels={self.inter_channels}, dim={self.dim}, '
                f'relu={self.relu}, zero_init={self.zero_init}')


def check_start(relu: bool, zero_init: Optional[bool]) -> Tuple[bool, bool]:
    """``(relu, zero_init)`` of a block's start; ``zero_init`` defaults to ``not relu``, and both is refused."""
    if zero_init is None:
        zero_init = not relu
    if relu and zero_init:
        raise ValueError('relu=True with zero_init=True would give every parameter of the block zero gradient '
                         '(ReLU of a zero-initialised norm is 0 and ReLU\'(0) = 0): use relu=False to start as '
                         'the identity, or zero_init=False to keep the ReLU')
    return relu, zero_init


class AffinityEmbedding:
    """Mixin holding the affinity embeddings ``phi``, ``psi`` (C1 -> Cs) and computing ``A`` from an input.

    kernel: 'dot' (ReLU embeddings, the authors' default; ``embedding_relu=False`` gives NL's plain dot product),
    'embedded_gaussian' (softmax of phi . psi, NL's default) or 'gaussian' (softmax of x_i . x_j on the raw
    input, no embeddings). Then optional symmetrisation and normalisation ('sym', 'row', 'count', 'none').
    path: 'auto' picks dense or factorised by size (dot kernel), 'dense' materialises A, 'factorised' never does.
    Softmax kernels without symmetrisation or normalisation run fused (scaled_dot_product_attention) unless
    path='dense'.
    """

    # Compile-time constants under TorchScript, which then compiles only the branches that exist: a unit of a
    # NonlocalStage (``shared_affinity``) has no kernel, embeddings or key pooling of its own, the Gaussian kernel
    # no embeddings.
    __constants__ = ['shared_affinity', 'has_embeddings']

    # True where the affinity of a float16 / bfloat16 input is computed from float32 embeddings (see
    # ``compute_affinity_float32``) although its kernel would not need it: set by containers whose one affinity
    # drives several units, so that its rounding is not amplified by each of them.
    float32_affinity = False

    @classmethod
    def affinity_options(cls, kernel: str, normalize: Optional[str], symmetric: bool, use_scale: bool,
                         path: str) -> dict:
        """The ``init_affinity`` arguments for this block type's options (overridden where a type has rules)."""
        return dict(kernel=kernel, normalize=normalize, symmetric=symmetric, use_scale=use_scale, path=path)

    def init_affinity(self, kernel: str, normalize: str, symmetric: bool, use_scale: bool, path: str,
                      embedding_relu: bool = True, key_pool: Optional[nn.Module] = None) -> None:
        check_choice('kernel', kernel, KERNELS)
        check_choice('normalize', normalize, NORMALIZATIONS)
        check_path(path, kernel)
        if key_pool is not None and symmetric:
            raise ValueError('sub-sampling the keys gives a non-square affinity, which cannot be symmetric')
        self.shared_affinity = False
        self.has_embeddings = kernel != 'gaussian'
        self.kernel, self.normalize, self.symmetric = kernel, normalize, symmetric
        self.use_scale, self.path, self.embedding_relu = use_scale, path, embedding_relu
        self.key_pool = key_pool
        # unnormalised dot kernels grow with the cube of the input's scale; signed ones (no ReLU) can have degrees
        # near zero, which 'sym' / 'row' normalisation divides by
        self.float32_branch = kernel == 'dot' and (normalize in ('none', 'count') or not embedding_relu)
        if self.has_embeddings:
            self.phi = self.conv1x1(self.in_channels, self.inter_channels)
            self.psi = self.conv1x1(self.in_channels, self.inter_channels)

    def init_shared_affinity(self) -> None:
        """A unit of a ``NonlocalStage``: no affinity of its own; ``forward(x, affinity)`` takes the stage's."""
        self.shared_affinity = True
        self.has_embeddings = False
        self.key_pool = None

    def subsample(self, t: Tensor, spatial: List[int]) -> Tensor:
        """Max-pool flattened keys / values (B x C x N) over space when sub-sampling is on."""
        if self.key_pool is not None:
            return self.key_pool(t.unflatten(2, spatial)).flatten(2)
        return t

    def materialises_softmax(self) -> bool:
        return self.kernel != 'dot' and (self.symmetric or self.normalize != 'none' or self.path == 'dense')

    @torch.jit.unused
    def compute_affinity_float32(self, x: Tensor) -> Affinity:
        """The affinity of a float16 / bfloat16 ``x`` from float32 embeddings, for a materialised softmax and where
        ``float32_affinity`` asks for it: bfloat16's 8 bits leave a logit of 1e4 (post-ReLU inputs at scale 100) an
        error of ~40, and its softmax meaningless. The N x N logits cost float32 anyway; the fused softmax
        (scaled_dot_product_attention) is not affected."""
        with torch.autocast(x.device.type, enabled=False):
            acc = accumulation_dtype(x.dtype)
            weights = None if self.kernel == 'gaussian' else [self.phi.weight.to(acc), self.psi.weight.to(acc)]
            return self.compute_affinity(x.to(acc), weights).to(x.dtype)

    def compute_affinity(self, x: Tensor, weights: Optional[List[Tensor]] = None) -> Affinity:
        """The affinity of an input ``x`` (B x C1 x spatial); ``weights`` in place of phi's and psi's."""
        if not torch.jit.is_scripting():
            if (self.float32_affinity or self.materialises_softmax()) and low_precision(x):
                return self.compute_affinity_float32(x)
        flat = x.flatten(2)
        query, key = flat, flat  # the Gaussian kernel has no embeddings
        if weights is not None:
            query, key = project(flat, weights)
        elif self.has_embeddings:
            query, key = project(flat, [self.phi.weight, self.psi.weight])
        key = self.subsample(key, x.shape[2:])
        scale: Optional[float] = None
        if self.use_scale:
            scale = query.shape[1] ** -0.5
        if self.kernel == 'dot':
            return dot_affinity(query, key, symmetric=self.symmetric, normalize=self.normalize,
                                relu=self.embedding_relu, scale=scale, path=self.path)
        return softmax_affinity(query, key, scale=1.0 if scale is None else scale, symmetric=self.symmetric,
                                normalize=self.normalize, materialize=self.path == 'dense')

    def own_affinity(self, x: Tensor) -> Affinity:
        """The affinity of ``x`` from this block's own embedding (kept when recording)."""
        if not self.shared_affinity:
            affinity = self.compute_affinity(x)
            if not torch.jit.is_scripting():
                self.keep_affinity(affinity)
            return affinity
        else:
            raise ValueError('this unit has no affinity embedding of its own (shared_affinity=True): pass the '
                             'affinity, as NonlocalStage does')

    def affinity_repr(self) -> str:
        return (f'kernel={self.kernel!r}, normalize={self.normalize!r}, symmetric={self.symmetric}, '
                f'path={self.path!r}')


def subsample_pool(dim: int) -> nn.Module:
    """NL's sub-sampling: 2 x 2 max-pooling over space (never over time), as in Wang et al. 2018."""
    if dim == 1:
        return nn.MaxPool1d(2)
    return nn.MaxPool2d(2) if dim == 2 else nn.MaxPool3d((1, 2, 2))


# the pre-0.2 private name, kept for one release
_NonlocalNd = NonlocalBlock

__all__ = ['AffinityEmbedding', 'NonlocalBlock', 'NonlocalModule', 'SOFTMAX_KERNELS', 'call_in_dtype', 'check_start',
           'resolve_inter_channels', 'subsample_pool']
