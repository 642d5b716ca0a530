"""The mmaction2 adapter, registered in mmaction2's registries:

- ``ResNetP3D`` (P3D-A/B/C ResNets) and ``SegmentNonlocal`` (3D blocks in N*T-batched 2D hosts such as ResNetTSM;
  in the root ``MODELS`` with the blocks);
- ``ResNeXt3d`` (MARS's 3D ResNeXt, the authors' parameter names) and the transforms ``WithFlow`` /
  ``FlowAwareFlip`` (RGB and flow of one clip with the same crop and flip);
- the UCF-101 / Kinetics annotation converters (:mod:`snl_plugins.mmaction.data`, no mmaction needed for those).

These are imported by ``import snl_plugins`` when mmaction2 is installed: they cost ``mmaction.registry`` only. The
parts that subclass mmaction2's models need ``mmaction.models`` (seconds to import, and it must come after the
placeholders of :mod:`snl_plugins.compat`), and those that subclass its data sets ``mmaction.datasets`` (about a
second), so they register when imported, as configs do with ``custom_imports``:

- ``snl_plugins.mmaction.vtn``: ``VTNHead``, VTN's temporal encoder (:mod:`snl_plugins.transformer`) as a head for
  ``Recognizer2D``, with multi-head self-attention or any of our blocks over T;
- ``snl_plugins.mmaction.mars``: ``MARSRecognizer`` (an RGB student distilled from a frozen flow teacher);
- ``snl_plugins.mmaction.datasets``: ``CheckedVideoDataset`` / ``CheckedRawframeDataset`` (``DATASETS``), mmaction2's
  data sets with labels and list lines checked when built and decode errors naming the file and list line.

``from snl_plugins.mmaction import VTNHead`` (or ``MARSRecognizer``, ``CheckedVideoDataset``) imports them too.
Injection into mmaction2's backbones needs nothing from here: ``InjectNonlocal`` lives in mmengine's root ``MODELS``,
which mmaction2's registry falls back to.
"""
import importlib

from .p3d import P3D_TYPES, Bottleneck2d, P3DBottleneck, ResNetP3D
from .resnext3d import ResNeXt3d
from .rgb_flow import FlowAwareFlip, WithFlow
from .segments import SegmentNonlocal

_NEEDS_MMACTION_MODELS = {'VTNHead': 'vtn', 'MARSRecognizer': 'mars'}
_NEEDS_MMACTION_DATASETS = {'CheckedVideoDataset': 'datasets', 'CheckedRawframeDataset': 'datasets'}
_LAZY = {**_NEEDS_MMACTION_MODELS, **_NEEDS_MMACTION_DATASETS}

__all__ = ['P3D_TYPES', 'Bottleneck2d', 'P3DBottleneck', 'ResNetP3D', 'SegmentNonlocal', 'ResNeXt3d', 'WithFlow',
           'FlowAwareFlip'] + list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
