"""The mmaction2 adapter, everything registered in mmaction2's registries:

- ``ResNetP3D`` (P3D-A/B/C ResNets) and ``SegmentNonlocal`` (3D blocks in N*T-batched 2D hosts such as ResNetTSM;
  in the root ``MODELS`` with the blocks);
- VTN: ``VTNHead``, VTN's temporal encoder (:mod:`snl_plugins.transformer`) as a head for ``Recognizer2D``, with
  multi-head self-attention or any of our blocks over T;
- MARS: ``ResNeXt3d`` (the authors' 3D ResNeXt and parameter names), ``MARSRecognizer`` (RGB student distilled
  from a frozen flow teacher) and the transforms ``WithFlow`` / ``FlowAwareFlip`` (RGB and flow of one clip with
  the same crop and flip);
- the UCF-101 / Kinetics annotation converters (:mod:`snl_plugins.mmaction.data`, no mmaction needed for those).

Imported by ``import snl_plugins`` when mmaction2 is installed; configs may also say
``custom_imports=dict(imports=['snl_plugins'])``. Injection into mmaction2's backbones needs nothing from here:
``InjectNonlocal`` lives in mmengine's root ``MODELS``, which mmaction2's registry falls back to.
"""
from .mars import MARSRecognizer
from .p3d import P3D_TYPES, Bottleneck2d, P3DBottleneck, ResNetP3D
from .resnext3d import ResNeXt3d
from .rgb_flow import FlowAwareFlip, WithFlow
from .segments import SegmentNonlocal
from .vtn import VTNHead

__all__ = ['P3D_TYPES', 'Bottleneck2d', 'P3DBottleneck', 'ResNetP3D', 'SegmentNonlocal', 'VTNHead', 'ResNeXt3d',
           'MARSRecognizer', 'WithFlow', 'FlowAwareFlip']
