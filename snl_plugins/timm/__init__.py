"""timm adapter: CIFAR PreResNets and the ``*_<block>`` model names, registered in timm on import."""
from . import preresnet, resnet
from ._factory import BLOCK_TYPES, nonlocal_specs
from .preresnet import PreResNet

__all__ = ['BLOCK_TYPES', 'PreResNet', 'nonlocal_specs', 'preresnet', 'resnet']
