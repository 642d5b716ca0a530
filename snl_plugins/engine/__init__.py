"""The mmengine adapter of the core: the blocks and ``InjectNonlocal`` in mmengine's root ``MODELS``
(:func:`register_all_modules`, run on import), :class:`CPUAmpOptimWrapper` (mixed precision on CPU) in its
``OPTIM_WRAPPERS`` and :class:`SafeCheckpointHook` (atomic checkpoints, exact resume) in its ``HOOKS``; imported by
``import snl_plugins`` where mmengine is installed. Also what the mmengine-side families share: :mod:`.images` (image
files, torchvision transforms by name) and :mod:`.losses` (losses from configs, labels from data samples), used by
``snl_plugins.cls`` and ``snl_plugins.reid``."""
from .amp import CPUAmpOptimWrapper
from .checkpoint import SafeCheckpointHook
from .registry import register_all_modules

register_all_modules()

__all__ = ['CPUAmpOptimWrapper', 'SafeCheckpointHook', 'register_all_modules']
