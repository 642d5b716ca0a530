"""``resnet{18,34,50,101}_<type>``: timm's ResNets with one block right before the last block of ``layer3`` (res4),
as in the paper and Wang et al. 2018 (see ``_factory`` for the keywords that move or multiply it)."""
import timm

from ._factory import BLOCK_TYPES, register

RESNET_DEPTHS = (18, 34, 50, 101)
default_cfgs = {}  # filled by register(), read by timm's register_model


def _timm_builder(base: str):
    return lambda pretrained=False, **kwargs: timm.create_model(base, pretrained=pretrained, **kwargs)


for _depth in RESNET_DEPTHS:
    _base = f'resnet{_depth}'
    for _suffix in BLOCK_TYPES:
        register(__name__, f'{_base}_{_suffix}', _timm_builder(_base), timm.models.get_pretrained_cfg(_base),
                 _suffix, at=('layer3.-1',), position='before')
