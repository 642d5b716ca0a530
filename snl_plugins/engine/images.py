"""Images for the mmengine-side data sets (classification, re-ID): files read as RGB uint8 CHW tensors, and
torchvision's ``transforms.v2`` configured by name (``dict(type='RandomCrop', size=32, padding=4)``). Normalisation is
the model's data preprocessor's job, as in OpenMMLab."""
from __future__ import annotations

import copy
from typing import Callable, List, Optional, Sequence, Union

import torch

from ..datacheck import naming_file

__all__ = ['build_transform', 'build_transforms', 'load_image']


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


def load_image(path: str, source: Optional[str] = None) -> torch.Tensor:
    """An image file as an RGB uint8 CHW tensor (grey and CMYK images are converted, as CUB has some); a file that
    cannot be decoded raises ``UnreadableFileError`` naming it (and ``source``, where it was listed)."""
    import os

    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor
    with naming_file(path, 'image', source):  # also appends ``source`` to the FileNotFoundError
        if not os.path.isfile(path):
            raise FileNotFoundError(f'Image file not found: {path}')
        with Image.open(path) as im:
            return pil_to_tensor(im.convert('RGB'))
