"""The spectral non-local blocks: SNL (Eq. 9) and its full-order form gSNL (Eq. 11)."""
from typing import List, Optional

from torch import Tensor

from ..ops import Affinity, chebyshev_terms, combine, project
from .base import AffinityEmbedding, NonlocalBlock


class SNL(AffinityEmbedding, NonlocalBlock):
    """Spectral non-local block, ``Y = X + norm(Z W1 + A Z W2)`` with ``Z = X W_g`` (Eq. 9).

    A is the symmetrised, normalised dot-product affinity of ``phi`` and ``psi`` (see ``AffinityEmbedding``);
    'sym' normalisation (D^-1/2 A D^-1/2, the authors' released code) is the default, 'row' (D^-1 A) is the
    paper's text. With the dot kernel the product ``A Z`` runs in O(N Cs^2) without forming A
    (``path='factorised'``, chosen automatically where it is cheaper).

    ``shared_affinity=True`` builds a unit without phi / psi, for a ``NonlocalStage`` that passes the affinity.

    Args:
        in_channels: C1, the input's channels.
        reduction: Cs = C1 / reduction (the paper's "Sub 2" is 2).
        inter_channels: Cs itself, overriding ``reduction``.
        kernel: 'dot' (ReLU embeddings), 'embedded_gaussian' (softmax of phi . psi) or 'gaussian' (softmax of
            x_i . x_j, no embeddings).
        normalize: 'sym' (D^-1/2 A D^-1/2), 'row' (D^-1 A), 'count' (A / N) or 'none'.
        symmetric: symmetrise A as (A + A^T) / 2 (Sec. 3.1).
        use_scale: scale the kernel by Cs^-1/2.
        path: 'auto' (the cheaper of the two for the input's size), 'dense' (forms N x N) or 'factorised' (the dot
            kernel's low-rank form, O(N Cs^2), never N x N).
        dim: 1, 2 or 3: inputs B x C x L, B x C x H x W or B x C x T x H x W.
        norm_cfg: the norm after the branch, OpenMMLab style (``dict(type='BN')``, the default: the batch norm of
            ``dim``; 'SyncBN', 'GN' with ``num_groups``, 'IN', or any norm in mmengine's ``MODELS``).
        relu: a ReLU after the norm (the authors' segmentation head); needs ``zero_init=False``.
        zero_init: the norm's weight starts at 0, so that the block starts as the identity (default: ``not relu``).
        shared_affinity: no phi / psi of its own; ``forward(x, affinity)`` takes the affinity (``NonlocalStage``).

    Inputs of another dtype than the parameters are refused outside ``torch.autocast``; float16 / bfloat16 hold
    (``docs/precision.md``).
    """
    order: int = 1
    __constants__ = AffinityEmbedding.__constants__ + ['order']

    def __init__(self, in_channels: int, reduction: float = 2, inter_channels: Optional[int] = None, *,
                 kernel: str = 'dot', normalize: str = 'sym', symmetric: bool = True, use_scale: bool = False,
                 path: str = 'auto', dim: int = 2, norm_cfg: Optional[dict] = None, relu: bool = False,
                 zero_init: Optional[bool] = None, shared_affinity: bool = False):
        super().__init__(in_channels, reduction=reduction, inter_channels=inter_channels, dim=dim,
                         norm_cfg=norm_cfg, relu=relu, zero_init=zero_init)
        if shared_affinity:
            self.init_shared_affinity()
        else:
            self.init_affinity(kernel, normalize, symmetric, use_scale, path)
        self.g = self.conv1x1(in_channels, self.inter_channels)
        self.w1 = self.conv1x1(self.inter_channels, in_channels)
        self.w2 = self.conv1x1(self.inter_channels, in_channels)
        if self.order == 2:
            self.w3 = self.conv1x1(self.inter_channels, in_channels)
        self.init_weights()

    def output_weights(self) -> List[Tensor]:
        return [self.w1.weight, self.w2.weight]

    def branch(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        if affinity is None:
            affinity = self.own_affinity(x)
        z = project(x.flatten(2), [self.g.weight])[0]
        out = combine(chebyshev_terms(affinity, z, self.order), self.output_weights())
        return out.view(x.shape)

    def extra_repr(self) -> str:
        own = '' if self.shared_affinity else ', ' + self.affinity_repr()
        return super().extra_repr() + own


class gSNL(SNL):  # noqa: N801 (the paper's name)
    """Full-order spectral non-local block, ``Y = X + norm(Z W1 + A Z W2 + (2A - I) Z W3)`` (Eq. 11).

    Under the stable hypothesis A^k = A every Chebyshev term T_k(A) is I, A or 2A - I (Appendix B), so these three
    terms are the full-order approximation; it is meant for stages of several units sharing one affinity.
    """
    order = 2

    def output_weights(self) -> List[Tensor]:
        return [self.w1.weight, self.w2.weight, self.w3.weight]
