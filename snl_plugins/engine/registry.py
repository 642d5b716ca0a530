"""Registration of the core (blocks, ``InjectNonlocal``) in mmengine's root ``MODELS``, kept out of the modules it
registers (as OpenMMLab's ``register_all_modules`` and timm's ``register_model`` do): ``snl_plugins.blocks`` and
``snl_plugins.inject`` import torch alone. Every OpenMMLab scope (mmaction, mmseg) falls back to the root registry, so
``dict(type='SNL', in_channels=...)`` builds from any of them."""
from mmengine.registry import MODELS

from ..blocks import BLOCKS
from ..inject import inject_nonlocal

__all__ = ['register_all_modules']


def register_all_modules() -> None:
    """Register every block under its class name and ``InjectNonlocal`` (idempotent)."""
    for name, cls in {**BLOCKS, 'InjectNonlocal': inject_nonlocal}.items():
        if MODELS.get(name) is not cls:
            MODELS.register_module(name=name, module=cls, force=name in MODELS.module_dict)
