"""Registering timm model names with non-local blocks.

Every ``*_<type>`` model (type: snl, gsnl, nl, ns, a2, cgnl) takes, besides the base model's own arguments:
``nl_at`` (dotted paths, e.g. ``('layer1.1', 'layer2.1', 'layer3.1')`` for the paper's DP3), ``nl_position``
('before' / 'after'), ``nl_units`` (SP3 = 3, SP5 = 5: units sharing one affinity in a ``NonlocalStage``; A2 and
CGNL, which have no N x N affinity, get that many blocks in a row) and ``nl_cfg`` (the block's own arguments, e.g.
``dict(reduction=4)`` for the paper's "Sub 4"). ``pretrained=True`` loads the base architecture's weights
(``pretrained_cfg_overlay=dict(file=...)`` for a local file) before the blocks go in: they start as the identity,
so the outputs equal the base model's.
"""
import sys
from collections import deque
from typing import Callable, Optional, Sequence

import timm
from timm.models import register_model
from timm.models._features import FeatureDictNet, FeatureGetterNet
from timm.models._pretrained import DefaultCfg, PretrainedCfg
from torch import nn

from ..blocks import STAGE_UNITS
from ..inject import insert_nonlocal

BLOCK_TYPES = {'snl': 'SNL', 'gsnl': 'gSNL', 'nl': 'NL', 'ns': 'NS', 'a2': 'A2', 'cgnl': 'CGNL'}


def nonlocal_specs(block_type: str, at: Sequence[str], position: str, units: int, cfg: Optional[dict]):
    """The ``insert_nonlocal`` configs for one block type at each of ``at``."""
    if isinstance(at, str):
        at = (at,)
    overridden = {'type': 'the model name', 'unit': 'the model name', 'at': 'nl_at', 'position': 'nl_position',
                  'num_blocks': 'nl_units', 'num_units': 'nl_units'}
    clash = [k for k in overridden if k in (cfg or {}) and not (k == 'type' and cfg[k] == block_type)]
    if clash:
        raise ValueError('nl_cfg holds the block\'s own arguments (e.g. reduction, path, norm_cfg); '
                         + '; '.join(f'{k}={cfg[k]!r} is set by {overridden[k]}' for k in clash)
                         + f' (this model inserts {block_type}): use those, or a plain host and insert_nonlocal')
    specs = []
    for path in at:
        block = dict(cfg or {})
        if units > 1 and block_type in STAGE_UNITS:
            block.update(type='NonlocalStage', unit=block_type, num_units=units)
        else:
            block.update(type=block_type, num_blocks=units)
        specs.append(dict(block, at=path, position=position))
    return specs


def _pruned(model: nn.Module, host: nn.Module, path: str) -> bool:
    """Whether ``path`` lies in a stage that a features_only model with ``out_indices`` cut away (the list / dict
    wrappers drop the stages after the last index; the getter's ``prune_intermediate_layers`` replaces them by
    ``nn.Identity`` or an empty ``nn.Sequential``)."""
    if not isinstance(model, (FeatureDictNet, FeatureGetterNet)):
        return False
    stage = str(path).split('.')[0]
    if stage not in {info['module'].split('.')[0] for info in model.feature_info.info}:
        return False
    module = host._modules.get(stage)
    return module is None or isinstance(module, nn.Identity) or (isinstance(module, nn.Sequential) and not module)


def _inject(model: nn.Module, specs) -> nn.Module:
    # features_only='getter' wraps the network as `.model`; the list / dict wrappers keep its stage names.
    host = model.model if isinstance(model, FeatureGetterNet) else model
    # a block in a stage the features model never runs is left out, as timm leaves out the stage itself
    specs = [spec for spec in specs if not _pruned(model, host, spec['at'])]
    if specs:
        insert_nonlocal(host, specs)
    return model


def register(module: str, name: str, build: Callable, cfg: PretrainedCfg, block_type: Optional[str] = None,
             at: Sequence[str] = (), position: str = 'before') -> None:
    """Register ``name`` in timm as a model of ``module`` (whose ``default_cfgs`` timm reads): ``build(pretrained,
    **kwargs)`` makes the host, then blocks of ``block_type`` go in at ``at`` (none when ``block_type`` is None)."""
    tag = cfg.tag or ''
    sys.modules[module].default_cfgs[name] = DefaultCfg(tags=deque([tag]), cfgs={tag: cfg})

    def entrypoint(pretrained: bool = False, nl_at: Sequence[str] = tuple(at), nl_position: str = position,
                   nl_units: int = 1, nl_cfg: Optional[dict] = None, **kwargs):
        pretrained_cfg = kwargs.get('pretrained_cfg')
        if pretrained_cfg is None or isinstance(pretrained_cfg, str):  # none, or a tag from 'name.tag'
            kwargs['pretrained_cfg'] = timm.models.get_pretrained_cfg(
                f'{name}.{pretrained_cfg}' if pretrained_cfg else name)
        model = build(pretrained=pretrained, **kwargs)
        if block_type is None:
            return model
        return _inject(model, nonlocal_specs(BLOCK_TYPES[block_type], nl_at, nl_position, nl_units, nl_cfg))

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = module
    entrypoint.__doc__ = f'{name} (see snl_plugins.timm._factory for the nl_* keywords)'
    setattr(sys.modules[module], name, register_model(entrypoint))
