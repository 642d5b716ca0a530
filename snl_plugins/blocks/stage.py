"""A non-local stage: consecutive units sharing one affinity computed from the stage input (Sec. 3.2)."""
import inspect
from typing import Optional

import torch
from torch import Tensor, nn

from ..ops import Affinity
from .base import AffinityEmbedding, NonlocalModule, check_start
from .nl import NL, NS
from .snl import SNL, gSNL

STAGE_UNITS = {'SNL': SNL, 'gSNL': gSNL, 'NL': NL, 'NS': NS}
_AFFINITY_ARGS = ('kernel', 'normalize', 'symmetric', 'use_scale', 'path')


class NonlocalStage(AffinityEmbedding, NonlocalModule):
    """``num_units`` units of one type (SNL, gSNL, NL, NS) applied in sequence, all with the affinity ``A`` that the
    stage's ``phi`` / ``psi`` compute once from the stage input: Tao et al.'s nonlocal stage for NS, the paper's
    SP3 / SP5 and the setting of its stable hypothesis (A^k = A) for gSNL.

    Each unit (``units[k]``) has its own g, output projections, norm and residual. The affinity options default to
    those of the unit type; the rest of ``unit_kwargs`` (norm_cfg, relu, zero_init) go to every unit.

    Args:
        in_channels: C1, the input's channels.
        unit: 'SNL', 'gSNL', 'NL' or 'NS'.
        num_units: the number of units (the paper's SP3 / SP5: 3 / 5).
        reduction: Cs = C1 / reduction.
        inter_channels: Cs itself, overriding ``reduction``.
        dim: 1, 2 or 3: inputs B x C x L, B x C x H x W or B x C x T x H x W.
        float32_affinity: under ``torch.autocast`` / for float16 and bfloat16 inputs, compute the one affinity from
            float32 embeddings. Its gradient sums every unit's, and in bfloat16 phi's came out 0.5 off float32's at
            N = 24 (gSNL x3, input scale 0.01; 1.2e-2 with this). Costs ~1.25x the stage's time on a CPU
            (``tools/analysis/precision_cost.py``, ``docs/precision.md``).
        **kwargs: the affinity options of the unit type (``kernel``, ``normalize``, ``symmetric``, ``use_scale``,
            ``path``) for the stage's one affinity; ``norm_cfg``, ``relu``, ``zero_init`` for every unit.
    """

    def __init__(self, in_channels: int, unit: str = 'gSNL', num_units: int = 3, reduction: float = 2,
                 inter_channels: Optional[int] = None, *, dim: int = 2, float32_affinity: bool = True, **kwargs):
        if unit not in STAGE_UNITS:
            raise ValueError(f'unknown stage unit {unit!r}; expected one of {", ".join(STAGE_UNITS)} (A2 and CGNL '
                             'have no N x N affinity to share: stack independent blocks instead)')
        if num_units < 1:
            raise ValueError(f'num_units must be >= 1, got {num_units}')
        unit_cls = STAGE_UNITS[unit]
        defaults = {k: p.default for k, p in inspect.signature(unit_cls).parameters.items()}
        affinity = unit_cls.affinity_options(**{k: kwargs.pop(k, defaults[k]) for k in _AFFINITY_ARGS})
        relu, zero_init = check_start(kwargs.get('relu', False), kwargs.get('zero_init'))  # before any unit is built
        super().__init__(in_channels, reduction=reduction, inter_channels=inter_channels, dim=dim)
        self.relu, self.zero_init = relu, zero_init  # how every unit starts
        self.init_affinity(**affinity)
        self.float32_affinity = float32_affinity
        self.unit_type = unit
        self.units = nn.ModuleList(
            unit_cls(in_channels, reduction, self.inter_channels, dim=dim, shared_affinity=True, **kwargs)
            for _ in range(num_units))
        self.init_weights()

    def init_weights(self) -> None:
        if self.has_embeddings:  # the units initialised themselves
            for embedding in (self.phi, self.psi):
                nn.init.kaiming_normal_(embedding.weight, mode='fan_out', nonlinearity='relu')

    def residual(self, x: Tensor, affinity: Optional[Affinity] = None) -> Tensor:
        """Each unit in turn, all with the affinity of the stage input (or the one passed)."""
        if affinity is None:
            affinity = self.compute_affinity(x)
            if not torch.jit.is_scripting():
                self.keep_affinity(affinity)
        for unit in self.units:
            x = unit(x, affinity)
        return x

    def extra_repr(self) -> str:
        return (f'unit={self.unit_type!r}, num_units={len(self.units)}, in_channels={self.in_channels}, '
                f'inter_channels={self.inter_channels}, dim={self.dim}, {self.affinity_repr()}')
