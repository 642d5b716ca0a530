"""Image transforms for the classification data sets: torchvision's own, configured by name.

A pipeline is a list of ``dict(type='RandomCrop', size=32, padding=4)``-style configs; ``type`` names a class of
``torchvision.transforms.v2`` (or is a callable class). They act on ``uint8`` CHW tensors; normalisation is the model's
data preprocessor's job (``mean`` / ``std`` in ``TimmClassifier(data_preprocessor=...)``), as in OpenMMLab.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..engine.images import build_transform, build_transforms, load_image

__all__ = ['build_transform', 'build_transforms', 'ApplyToImage', 'PackClsInputs', 'load_image']


class ApplyToImage:
    """Applies an image transform to ``results['img']`` (a uint8 CHW tensor)."""

    def __init__(self, transform: Callable):
        self.transform = transform

    def __call__(self, results: dict) -> dict:
        results['img'] = self.transform(results['img'])
        return results

    def __repr__(self):
        return f'ApplyToImage({self.transform!r})'


class PackClsInputs:
    """``dict(img, gt_label)`` -> ``dict(inputs=uint8 CHW tensor, data_samples=int label)``."""

    def __call__(self, results: dict) -> dict:
        img = results['img']
        if isinstance(img, np.ndarray):
            img = torch.from_numpy(np.ascontiguousarray(img))
        return dict(inputs=torch.as_tensor(img).contiguous(), data_samples=int(results['gt_label']))

    def __repr__(self):
        return 'PackClsInputs()'
