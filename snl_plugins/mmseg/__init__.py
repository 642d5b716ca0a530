"""mmsegmentation adapter: importing it registers, in mmseg's registries,

- ``FwIoUMetric`` (``METRICS``): ``IoUMetric`` plus frequency-weighted IoU (``fwIoU``, percent);
- ``NonlocalHead`` (``MODELS``): mmseg's ``NLHead`` with any of our blocks by config in its place;
- ``CheckSegMaps`` (``TRANSFORMS``), ``CheckedPascalVOCDataset`` and ``CheckedConcatDataset`` (``DATASETS``): masks
  whose size differs from their image, or with labels outside the classes other than the ignore index, fail naming
  the file.

Blocks inside mmseg backbones need nothing from here: ``InjectNonlocal`` lives in mmengine's root ``MODELS``, which
mmseg's registry falls back to. ``import snl_plugins`` does not import this module (``mmseg.models`` costs over a
second to import); configs load it with ``custom_imports=dict(imports=['snl_plugins', 'snl_plugins.mmseg'])``.
For mmsegmentation's own ``tools/train.py`` with mmcv-lite, see :mod:`snl_plugins.compat.startup`.
"""
import snl_plugins  # noqa: F401  (core blocks, InjectNonlocal; applies the mmcv-lite workarounds before mmseg loads)

from .datasets import CheckedConcatDataset, CheckedPascalVOCDataset, CheckSegMaps, SegMapError, add_seg_map_check
from .heads import NonlocalHead
from .metrics import FwIoUMetric, fw_iou

__all__ = ['CheckSegMaps', 'CheckedConcatDataset', 'CheckedPascalVOCDataset', 'FwIoUMetric', 'NonlocalHead',
           'SegMapError', 'add_seg_map_check', 'fw_iou']
