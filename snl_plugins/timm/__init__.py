"""timm adapter: PreResNet and the ``*_<block>`` model names (registered on import)."""
from . import models
from .models import BLOCK_TYPES, nonlocal_specs
from .preresnet import PreResNet

__all__ = ['BLOCK_TYPES', 'PreResNet', 'models', 'nonlocal_specs']
