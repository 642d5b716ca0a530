"""The mmaction2 adapter: the P3D backbone ``ResNetP3D`` (registered in mmaction2's ``MODELS``), ``SegmentNonlocal``
(3D blocks in N*T-batched 2D hosts such as ResNetTSM; in the root ``MODELS`` with the blocks) and the UCF-101 /
Kinetics annotation converters (:mod:`snl_plugins.mmaction.data`, no mmaction needed for those).

Imported by ``import snl_plugins`` when mmaction2 is installed (it costs only ``mmaction.registry``); configs may
also say ``custom_imports=dict(imports=['snl_plugins'])``. Injection into mmaction2's backbones needs nothing from
here: ``InjectNonlocal`` lives in mmengine's root ``MODELS``, which mmaction2's registry falls back to.
"""
from .p3d import P3D_TYPES, Bottleneck2d, P3DBottleneck, ResNetP3D
from .segments import SegmentNonlocal
from .vtn import VTNHead  # noqa: F401  (VTN's temporal encoder as a head, in mmaction2's MODELS)
from . import mars, resnext3d, rgb_flow  # noqa: F401  (MARS: ResNeXt3d, MARSRecognizer, WithFlow / FlowAwareFlip)

__all__ = ['P3D_TYPES', 'Bottleneck2d', 'P3DBottleneck', 'ResNetP3D', 'SegmentNonlocal']
