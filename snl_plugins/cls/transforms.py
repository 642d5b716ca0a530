"""Image transforms for the classification data sets: torchvision's own, configured by name.

A pipeline is a list of ``dict(type='RandomCrop', size=32, padding=4)``-style configs; ``type`` names a class of
``torchvision.transforms.v2`` (or is a callable class). They act on ``uint8`` CHW tensors; normalisation is the model's
data preprocessor's job (``mean`` / ``std`` in ``TimmClassifier(data_preprocessor=...)``), as in OpenMMLab.
"""
from __future__ import annotations

import copy
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = ['build_transform', 'build_transforms', 'ApplyToImage', 'PackClsInputs', 'load_image']


def build_transform(cfg: Union[dict, Callable]) -> Callable:
    if callable(cfg) and not isinstance(cfg, dict):
        return cfg
    cfg = copy.deepcopy(dict(cfg))
    t = cfg.pop('type')
    if isinstance(t, str):
        from torchvision.transforms import v2
        if not hasattr(v2, t):
            raise KeyError(f'Unknown transform type {t!r}: expected a class of torchvision.transforms.v2 '
                           '(e.g. RandomCrop, RandomHorizontalFlip, RandomResizedCrop, Resize, CenterCrop)')
        t = getattr(v2, t)
    # configs hold lists; torchvision wants tuples for sizes
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    return t(**cfg)


def build_transforms(cfgs: Optional[Sequence[Union[dict, Callable]]]) -> List[Callable]:
    return [build_transform(c) for c in (cfgs or [])]


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


def load_image(path: str) -> torch.Tensor:
    """An image file as an RGB uint8 CHW tensor (grey and CMYK images are converted, as CUB has some)."""
    import os

    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Image file not found: {path}')
    with Image.open(path) as im:
        return pil_to_tensor(im.convert('RGB'))
