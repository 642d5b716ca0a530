"""What the mixed-precision design costs, against the alternatives it was chosen over (``docs/precision.md``).

The design (``snl_plugins.ops.lowrank_affinity``) keeps the two O(N Cs^2) products of a factorised affinity in the
input's dtype and forms only the element-wise degrees, scales and rebalancing in float32; a ``NonlocalStage``
computes its one shared affinity from float32 embeddings (``float32_affinity``). Each is timed here beside the
alternative, forward + backward under ``torch.autocast``, all variants round-robin in one process
(``interleaved_times``):

- 'products in float32': the two products of ``Affinity.matmul`` on float32 copies of their operands, i.e.
  accumulating the whole affinity in float32 (``affinity_products_in_float32``);
- 'embeddings in input dtype': the stage with ``float32_affinity`` off, its phi / psi in the autocast dtype.
"""
import contextlib
from typing import Callable, Dict, Iterator, List, Optional

import torch
from torch import nn

from ..blocks import SNL, NonlocalStage
from ..ops import Affinity
from .precision import make_trained_like
from .timing import interleaved_times

__all__ = ['affinity_products_in_float32', 'cost_variants', 'measure_cost', 'cost_markdown']


@contextlib.contextmanager
def affinity_products_in_float32() -> Iterator[None]:
    """Within the block, ``Affinity.matmul`` of a factorised affinity runs its two products in float32 (the
    alternative design, for measurement only); dense and fused affinities are left as they are."""
    design = Affinity.matmul

    def matmul(self: Affinity, z: torch.Tensor) -> torch.Tensor:
        if self.left is None or self.right is None:
            return design(self, z)
        with torch.autocast(z.device.type, enabled=False):
            out = torch.bmm(torch.bmm(z.float(), self.right.float().transpose(1, 2)), self.left.float())
        return out.to(z.dtype)

    Affinity.matmul = matmul
    try:
        yield
    finally:
        Affinity.matmul = design


def cost_variants(channels: int = 512, inter_channels: Optional[int] = None) -> Dict[str, tuple]:
    """``{name: (block, autocast dtype or None, context)}``: the design and its alternatives."""
    snl = make_trained_like(SNL(channels, inter_channels=inter_channels, path='factorised'))
    stage, stage_low = (make_trained_like(NonlocalStage(channels, unit='gSNL', num_units=3, path='factorised',
                                                        inter_channels=inter_channels, float32_affinity=flag))
                        for flag in (True, False))
    stage_low.load_state_dict(stage.state_dict())
    variants = {'SNL factorised, float32': (snl, None, contextlib.nullcontext)}
    for name, dtype in (('bfloat16', torch.bfloat16), ('float16', torch.float16)):
        variants[f'SNL factorised, {name} autocast (design)'] = (snl, dtype, contextlib.nullcontext)
        variants[f'SNL factorised, {name} autocast, products in float32'] = (snl, dtype, affinity_products_in_float32)
    variants['Stage gSNL x3 factorised, float32'] = (stage, None, contextlib.nullcontext)
    for name, dtype in (('bfloat16', torch.bfloat16), ('float16', torch.float16)):
        variants[f'Stage gSNL x3 factorised, {name} autocast (design)'] = (stage, dtype, contextlib.nullcontext)
        variants[f'Stage gSNL x3 factorised, {name} autocast, embeddings in {name}'] = (
            stage_low, dtype, contextlib.nullcontext)
    return variants


def _step(block: nn.Module, x: torch.Tensor, dtype: Optional[torch.dtype], context: Callable) -> Callable[[], None]:
    def run() -> None:
        xi = x.clone().requires_grad_()
        with context(), torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            y = block(xi)
        y.float().square().mean().backward()
    return run


def measure_cost(batch: int = 2, channels: int = 512, size: int = 64, repeats: int = 3,
                 device: str = 'cpu', seed: int = 0) -> List[dict]:
    """One row per variant of ``cost_variants``: forward + backward median seconds on post-ReLU inputs
    ``relu(randn) * 3`` of shape batch x channels x size x size, and the ratio to its family's design."""
    torch.manual_seed(seed)
    variants = cost_variants(channels)
    x = torch.randn(batch, channels, size, size, device=device).relu() * 3
    for block, _, _ in variants.values():
        block.to(device)
    medians, _ = interleaved_times([_step(b, x, d, c) for b, d, c in variants.values()], repeats, device)
    rows = [dict(variant=name, seconds=m) for name, m in zip(variants, medians)]
    for row in rows:
        family, _, rest = row['variant'].partition(', ')
        dtype = rest.split(' ')[0]
        design = next((r for r in rows if r['variant'] == f'{family}, {dtype} autocast (design)'), None)
        row['vs_design'] = row['seconds'] / design['seconds'] if design else None
    return rows


def cost_markdown(rows: List[dict]) -> str:
    lines = ['| variant | ms | time / design |', '|---|---|---|']
    for r in rows:
        ratio = '' if r['vs_design'] is None else f"{r['vs_design']:.2f}"
        lines.append(f"| {r['variant']} | {r['seconds'] * 1e3:.0f} | {ratio} |")
    return '\n'.join(lines) + '\n'
