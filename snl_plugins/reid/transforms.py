"""Clip transforms: torchvision ``transforms.v2`` (by name, as in :mod:`snl_plugins.cls.transforms`) plus the re-ID
augmentation of Gao & Nevatia's code, ``Random2DTranslation``.

They act on a uint8 ``F x C x H x W`` tensor holding the frames of a clip (or of a whole tracklet at test time): v2
transforms draw their random parameters once per call, so every frame of a clip gets the same crop and flip. (The
original code transformed each frame on its own; a clip-consistent augmentation keeps the frames aligned, which a 3D
block over T x H x W relies on.)
"""
from __future__ import annotations

import copy
import random
from typing import Callable, List, Optional, Sequence, Union

import torch

from ..engine.images import build_transform as _build_v2

__all__ = ['Random2DTranslation', 'build_clip_transforms']


class Random2DTranslation:
    """With probability ``1 - p`` resize to ``(height, width)``; otherwise resize to 1.125 times that and crop
    ``(height, width)`` at a random place (Gao & Nevatia's ``Random2DTranslation``, p = 0.5)."""

    def __init__(self, height: int, width: int, p: float = 0.5, scale: float = 1.125):
        self.height, self.width, self.p, self.scale = int(height), int(width), float(p), float(scale)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms.v2 import functional as F
        if random.uniform(0, 1) > self.p:
            return F.resize(frames, [self.height, self.width], antialias=True)
        h, w = int(round(self.height * self.scale)), int(round(self.width * self.scale))
        frames = F.resize(frames, [h, w], antialias=True)
        top = int(round(random.uniform(0, h - self.height)))
        left = int(round(random.uniform(0, w - self.width)))
        return frames[..., top:top + self.height, left:left + self.width]

    def __repr__(self):
        return f'Random2DTranslation(height={self.height}, width={self.width}, p={self.p})'


_OWN = {'Random2DTranslation': Random2DTranslation}


def build_clip_transforms(cfgs: Optional[Sequence[Union[dict, Callable]]]) -> List[Callable]:
    out = []
    for cfg in cfgs or []:
        if isinstance(cfg, dict) and cfg.get('type') in _OWN:
            cfg = copy.deepcopy(dict(cfg))
            out.append(_OWN[cfg.pop('type')](**cfg))
        else:
            out.append(_build_v2(cfg))
    return out
