"""Training-engine parts for mmengine: :class:`CPUAmpOptimWrapper` (mixed precision on CPU), registered in mmengine's
``OPTIM_WRAPPERS`` on ``import snl_plugins``."""
from .amp import CPUAmpOptimWrapper

__all__ = ['CPUAmpOptimWrapper']
