"""Collecting the affinities that blocks used, for the analysis tools."""
from contextlib import contextmanager
from typing import Dict, Iterator, List

from torch import nn

from ..ops import Affinity
from .base import AffinityEmbedding, NonlocalModule


def nonlocal_modules(model: nn.Module) -> Dict[str, NonlocalModule]:
    """Every block and stage in ``model`` by qualified name (units inside a stage excluded)."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, NonlocalModule) and not (isinstance(m, AffinityEmbedding) and m.shared_affinity)}


@contextmanager
def capture_affinities(model: nn.Module) -> Iterator[Dict[str, List[Affinity]]]:
    """Within the context, every forward of a block of ``model`` appends its (detached) affinity to
    ``records[name]``; blocks record nothing outside it.
    """
    blocks = nonlocal_modules(model)
    records: Dict[str, List[Affinity]] = {name: [] for name in blocks}
    hooks = []
    for name, block in blocks.items():
        block.record_affinity = True
        hooks.append(block.register_forward_hook(
            lambda module, args, output, name=name: records[name].append(module.affinity)))
    try:
        yield records
    finally:
        for hook in hooks:
            hook.remove()
        for block in blocks.values():
            block.record_affinity = False
            block.affinity = None
