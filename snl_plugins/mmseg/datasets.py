"""Checks on segmentation ground truth that name the offending file.

``CheckSegMaps`` (a transform in mmseg's ``TRANSFORMS``, placed right after ``LoadAnnotations``) refuses a mask
whose size differs from its image, and labels outside ``[0, num_classes)`` other than the ignore index.
``CheckedPascalVOCDataset`` / ``CheckedConcatDataset`` (mmseg's ``DATASETS``) put it into their pipelines
themselves, so a config switches it on with one ``type=`` line, without restating the pipelines.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import ConcatDataset
from mmseg.datasets import PascalVOCDataset
from mmseg.registry import DATASETS, TRANSFORMS

__all__ = ['CheckSegMaps', 'CheckedConcatDataset', 'CheckedPascalVOCDataset', 'SegMapError', 'add_seg_map_check']


class SegMapError(ValueError):
    """A ground-truth mask does not fit its image or the data set's classes."""


@TRANSFORMS.register_module()
class CheckSegMaps(BaseTransform):
    """Check ``gt_seg_map`` against its image and the class range; raise :class:`SegMapError` naming the files.

    Place it right after ``LoadAnnotations`` (the mask is compared with the image's ``ori_shape``, so it may come
    after a ``Resize`` of the image, as in mmseg's test pipelines).

    Args:
        num_classes (int): labels must lie in ``[0, num_classes)``...
        ignore_index (int): ...or equal this (255 in VOC's boundary pixels).
    """

    def __init__(self, num_classes: int, ignore_index: int = 255):
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        seg = results.get('gt_seg_map')
        if seg is None:
            return results
        seg_path = results.get('seg_map_path', '<unknown mask>')
        img_path = results.get('img_path', '<unknown image>')
        shape = results.get('ori_shape') or results.get('img_shape')
        if shape is not None and tuple(seg.shape[:2]) != tuple(shape[:2]):
            raise SegMapError(f'mask {seg_path} is {seg.shape[0]}x{seg.shape[1]} (HxW) but its image {img_path} is '
                              f'{shape[0]}x{shape[1]}: a mask must have the size of its image')
        bad = (seg >= self.num_classes) | (seg < 0)
        if self.ignore_index is not None:
            bad &= seg != self.ignore_index
        if bad.any():
            values = np.unique(seg[bad])
            shown = ', '.join(str(int(v)) for v in values[:10]) + (', ...' if len(values) > 10 else '')
            raise SegMapError(f'mask {seg_path} (image {img_path}) has labels outside the {self.num_classes} classes '
                              f'(0..{self.num_classes - 1}, and {self.ignore_index} for ignored pixels): {shown} in '
                              f'{int(bad.sum())} pixels. Is it a palette PNG of class indices (not an RGB '
                              f'rendering), with reduce_zero_label set as the data set needs?')
        return results

    def __repr__(self):
        return f'{type(self).__name__}(num_classes={self.num_classes}, ignore_index={self.ignore_index})'


def add_seg_map_check(dataset, num_classes: Optional[int] = None) -> None:
    """Insert :class:`CheckSegMaps` after the ``LoadAnnotations`` of a built mmseg data set's pipeline (in place)."""
    transforms = dataset.pipeline.transforms
    if any(isinstance(t, CheckSegMaps) for t in transforms):
        return
    if num_classes is None:
        num_classes = len(dataset.metainfo['classes'])
    check = CheckSegMaps(num_classes, getattr(dataset, 'ignore_index', 255))
    for i, t in enumerate(transforms):
        if type(t).__name__ == 'LoadAnnotations':
            transforms.insert(i + 1, check)
            return
    # no LoadAnnotations (e.g. an inference-only pipeline): nothing to check


@DATASETS.register_module()
class CheckedPascalVOCDataset(PascalVOCDataset):
    """``PascalVOCDataset`` whose pipeline checks every mask (:class:`CheckSegMaps`) right after loading it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        add_seg_map_check(self)


@DATASETS.register_module()
class CheckedConcatDataset(ConcatDataset):
    """mmengine's ``ConcatDataset`` that adds :class:`CheckSegMaps` to each part's pipeline (mmseg's VOC-aug train
    set is a ``ConcatDataset`` of VOC train and SBD aug)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for dataset in self.datasets:
            if hasattr(dataset, 'pipeline') and hasattr(dataset, 'metainfo'):
                add_seg_map_check(dataset)
