"""timm adapter: CIFAR PreResNets and the ``*_<block>`` model names, registered in timm on import."""
from timm.layers import register_notrace_module

from ..blocks import BLOCKS
from . import preresnet, resnet

# torch.fx (timm's feature extraction, its FX tests) keeps our blocks whole: their input checks are Python.
for _block in BLOCKS.values():
    register_notrace_module(_block)
from ._factory import BLOCK_TYPES, nonlocal_specs
from .preresnet import PreResNet

__all__ = ['BLOCK_TYPES', 'PreResNet', 'nonlocal_specs', 'preresnet', 'resnet']
