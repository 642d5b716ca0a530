"""The non-local baselines with an N x N affinity: NL (Wang et al. 2018) and NS (Tao et al. 2018)."""
from typing import Optional

from torch import Tensor

from ..ops import Affinity, combine, project
from .base import AffinityEmbedding, NonlocalBlock, subsample_pool


ARGS_DOC = """
    Args:
        in_channels: C1, the input's channels.
        reduction: Cs = C1 / reduction (the paper's "Sub 2" is 2).
        inter_channels: Cs itself, overriding ``reduction``.
        kernel: 'dot' (theta . phi / N, no ReLU), 'embedded_gaussian' (softmax of phi . psi) or 'gaussian' (softmax of
            x_i . x_j, no embeddings).
        normalize: 'sym' (D^-1/2 A D^-1/2), 'row' (D^-1 A), 'count' (A / N) or 'none' (default: 'count' for
            'dot', else 'none').
        symmetric: symmetrise A as (A + A^T) / 2 (Sec. 3.1).
        use_scale: scale the kernel by Cs^-1/2.
        path: 'auto' (the cheaper of the two for the input's size), 'dense' (forms N x N) or 'factorised' (the dot
            kernel's low-rank form, O(N Cs^2), never N x N).
        sub_sample: max-pool keys and values 2 x 2 over space (Wang et al.; NL only).
        dim: 1, 2 or 3: inputs B x C x L, B x C x H x W or B x C x T x H x W.
        norm_cfg: the norm after the branch, OpenMMLab style (``dict(type='BN')``, the default: the batch norm of
            ``dim``; 'SyncBN', 'GN' with ``num_groups``, 'IN', or any norm in mmengine's ``MODELS``).
        relu: a ReLU after the norm (the authors' segmentation head); needs ``zero_init=False``.
        zero_init: the norm's weight starts at 0, so that the block starts as the identity (default: ``not relu``).
        shared_affinity: no embeddings of its own; ``forward(x, affinity)`` takes the affinity (``NonlocalStage``).
"""


class _AffinityBlock(AffinityEmbedding, NonlocalBlock):
    """A block with a g projection, one output projection ``w`` and an affinity (own or passed by a stage)."""
    can_sub_sample = True

    def __init__(self, in_channels: int, reduction: float = 2, inter_channels: Optional[int] = None, *,
                 kernel: str = 'embedded_gaussian', normalize: Optional[str] = None, symmetric: bool = False,
                 use_scale: bool = True, path: str = 'auto', sub_sample: bool = False, dim: int = 2,
                 norm_cfg: Optional[dict] = None, relu: bool = False, zero_init: Optional[bool] = None,
                 shared_affinity: bool = False):
        if sub_sample and not self.can_sub_sample:
            raise ValueError(f'{type(self).__name__} subtracts D_A Z at the query positions, so keys cannot be '
                             'sub-sampled')
        super().__init__(in_channels, reduction=reduction, inter_channels=inter_channels, dim=dim,
                         norm_cfg=norm_cfg, relu=relu, zero_init=zero_init)
        if shared_affinity and sub_sample:
            raise ValueError('sub_sample belongs to the affinity: a unit with shared_affinity=True has none')
        if shared_affinity:
            self.init_shared_affinity()
        else:
            self.init_affinity(**self.affinity_options(kernel, normalize, symmetric, use_scale, path),
                               key_pool=subsample_pool(dim) if sub_sample else None)
        self.g = self.conv1x1(in_channels, self.inter_channels)
        self.w = self.conv1x1(self.inter_channels, in_channels)
        self.init_weights()

    @classmethod
    def affinity_options(cls, kernel, normalize, symmetric, use_scale, path) -> dict:
        # NL's dot product divides by the number of positions and has no ReLU on the embeddings or scale; the
        # Cs^-1/2 scale of the official code belongs to the embedded Gaussian only (the Gaussian is softmax of the
        # raw x_i . x_j, as in the paper, mmcv and the third-party ports).
        dot = kernel == 'dot'
        if normalize is None:
            normalize = 'count' if dot else 'none'
        return dict(kernel=kernel, normalize=normalize, symmetric=symmetric,
                    use_scale=use_scale and kernel == 'embedded_gaussian', path=path, embedding_relu=not dot)

    def extra_repr(self) -> str:
        own = '' if self.shared_affinity else ', ' + self.affinity_repr()
        return super().extra_repr() + own


class NL(_AffinityBlock):
    """Non-local block of Wang et al. 2018: ``Y = X + norm(A Z W)``.

    It is SNL with W1 = 0 and W2 = W only where both use the same affinity: NL's default equals
    ``SNL(kernel='embedded_gaussian', normalize='none', symmetric=False, use_scale=True)`` with ``w1`` zero. SNL's
    own default affinity (ReLU dot kernel, symmetrised, 'sym'-normalised) is another operator, so the default NL is
    not the default SNL with W1 = 0 (both checked in ``tests/blocks/test_relations.py``).

    kernel: 'embedded_gaussian' (default; softmax_j(theta_i . phi_j), times Cs^-1/2 with ``use_scale`` as in the
    official code), 'gaussian' (softmax of raw x_i . x_j) or 'dot' (theta_i . phi_j / N). ``sub_sample`` max-pools
    keys and values 2 x 2 over space. Softmax kernels run through torch's fused attention: N x N is not stored.
    """

    def branch(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        if affinity is None:
            affinity = self.own_affinity(x)
        z = self.subsample(project(x.flatten(2), [self.g.weight])[0], x.shape[2:])
        return combine([affinity.matmul(z)], [self.w.weight]).view(x.shape)


class NS(_AffinityBlock):
    """Non-local stage unit of Tao et al. 2018: ``Y = X + norm((A - D_A) Z W)`` with D_A = diag(A 1) (Eq. 3).

    With the default row-softmax affinity D_A = I; with any other kernel / normalisation the degrees are computed.
    NS equals SNL with W1 = -W and W2 = W exactly where A's rows sum to 1 (a row softmax, or 'row' normalisation)
    and both use the same affinity: NS's default and ``SNL(kernel='embedded_gaussian', normalize='none',
    symmetric=False, use_scale=True)``. Under 'sym' normalisation D_A is not I and the two differ
    (``tests/blocks/test_relations.py``). Several units sharing one affinity computed from the stage input form
    Tao et al.'s nonlocal stage: ``NonlocalStage(unit='NS')``.
    """
    can_sub_sample = False

    def branch(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        if affinity is None:
            affinity = self.own_affinity(x)
        z = project(x.flatten(2), [self.g.weight])[0]
        diffusion = affinity.matmul(z) - affinity.degrees().unsqueeze(1) * z
        return combine([diffusion], [self.w.weight]).view(x.shape)


NL.__doc__ += ARGS_DOC
NS.__doc__ += ARGS_DOC
