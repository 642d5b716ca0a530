"""timm model names with non-local blocks, registered on ``import snl_plugins``.

``resnet{18,34,50,101}_{snl,gsnl,nl,ns,a2,cgnl}``: timm's ResNet with one block right before the last block of
``layer3`` (res4), as in the paper and Wang et al. 2018. ``preresnet{20,56}`` and ``preresnet{20,56}_<type>``:
CIFAR PreResNets, plain and with one block right after the second block of stage 1.

Keywords of every ``*_<type>`` model (all optional): ``nl_at`` (dotted paths, e.g. ``('layer1.1', 'layer2.1',
'layer3.1')`` for the paper's DP3), ``nl_position`` ('before' / 'after'), ``nl_units`` (SP3 = 3, SP5 = 5: units
sharing one affinity in a ``NonlocalStage``; A2 and CGNL, which have no N x N affinity, get that many blocks in a
row) and ``nl_cfg`` (the block's own arguments, e.g. ``dict(reduction=4)`` for the paper's "Sub 4").
``pretrained=True`` loads the base architecture's weights (``pretrained_cfg_overlay=dict(file=...)`` for a local
file): the blocks start as the identity, so the model's outputs equal the base model's.
"""
import sys
from collections import deque
from typing import Callable, Optional, Sequence

import timm
from timm.models import register_model
from timm.models._features import FeatureGetterNet
from timm.models._pretrained import DefaultCfg, PretrainedCfg
from torch import nn

from ..blocks import STAGE_UNITS
from ..inject import insert_nonlocal
from .preresnet import create_preresnet

BLOCK_TYPES = {'snl': 'SNL', 'gsnl': 'gSNL', 'nl': 'NL', 'ns': 'NS', 'a2': 'A2', 'cgnl': 'CGNL'}
RESNET_DEPTHS = (18, 34, 50, 101)
PRERESNET_DEPTHS = (20, 56)

_CIFAR_CFG = dict(url='', num_classes=100, input_size=(3, 32, 32), pool_size=(8, 8), crop_pct=1.0,
                  interpolation='bilinear', mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
                  first_conv='conv1', classifier='fc', license='apache-2.0')

default_cfgs = {}  # read by timm's register_model


def nonlocal_specs(block_type: str, at: Sequence[str], position: str, units: int, cfg: Optional[dict]):
    """The ``insert_nonlocal`` configs for one block type at each of ``at``."""
    if isinstance(at, str):
        at = (at,)
    specs = []
    for path in at:
        block = dict(cfg or {})
        if units > 1 and block_type in STAGE_UNITS:
            block.update(type='NonlocalStage', unit=block_type, num_units=units)
        else:
            block.update(type=block_type, num_blocks=units)
        specs.append(dict(block, at=path, position=position))
    return specs


def _inject(model: nn.Module, specs) -> nn.Module:
    # features_only='getter' wraps the network as `.model`; the list / dict wrappers keep its stage names.
    insert_nonlocal(model.model if isinstance(model, FeatureGetterNet) else model, specs)
    return model


def _register(name: str, build: Callable, cfg: PretrainedCfg, block_type: Optional[str] = None,
              at: Sequence[str] = (), position: str = 'before') -> None:
    tag = cfg.tag or ''
    default_cfgs[name] = DefaultCfg(tags=deque([tag]), cfgs={tag: cfg})

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
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = (f'{name}: see snl_plugins.timm.models.' if block_type else f'{name}: CIFAR PreResNet.')
    setattr(sys.modules[__name__], name, register_model(entrypoint))


def _register_all() -> None:
    for depth in RESNET_DEPTHS:
        base = f'resnet{depth}'
        base_cfg = timm.models.get_pretrained_cfg(base)
        build = (lambda base: lambda pretrained=False, **kw: timm.create_model(base, pretrained=pretrained, **kw))(
            base)
        for suffix in BLOCK_TYPES:
            _register(f'{base}_{suffix}', build, base_cfg, suffix, at=('layer3.-1',), position='before')
    for depth in PRERESNET_DEPTHS:
        base = f'preresnet{depth}'
        build = (lambda base, depth: lambda pretrained=False, **kw: create_preresnet(
            base, pretrained, **dict(dict(depth=depth), **kw)))(base, depth)
        _register(base, build, PretrainedCfg(**_CIFAR_CFG))
        for suffix in BLOCK_TYPES:
            _register(f'{base}_{suffix}', build, PretrainedCfg(**_CIFAR_CFG), suffix, at=('layer1.1',),
                      position='after')


_register_all()
