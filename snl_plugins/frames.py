"""A 3D block where the host holds the frames of each clip in its batch (N*T x C x H x W): 2D video networks that
fold time into the batch (TSM, TSN, TIN) and per-frame re-ID backbones. Torch alone, like the rest of the core."""
from typing import Optional

import torch
from torch import Tensor, nn

from .inject import build_block

__all__ = ['FramesNonlocal']


class FramesNonlocal(nn.Module):
    """Run a 3D block over T x H x W of each clip, where the host sees frames (N*T x C x H x W), and give the
    frames back: ``y = unfold(block(fold(x)))``. Frames of a clip must be consecutive in the batch.

    Args:
        in_channels: C, the frames' channels.
        block: the 3D block's config, e.g. ``dict(type='SNL', reduction=2)`` (its ``dim`` is set to 3).
        num_frames: T, frames per clip; None to let the owner set ``num_frames`` before each forward.
        dim: the host position's dimensionality, which must be 2 (frames); what ``insert_nonlocal`` passes.
    """
    frames_name = 'num_frames'  # how the subclasses' configs name T, for messages

    def __init__(self, in_channels: int, block: dict, num_frames: Optional[int] = None, dim: int = 2):
        super().__init__()
        name = type(self).__name__
        if dim != 2:
            raise ValueError(f'{name} goes where the host has 2D frame maps (N*T x C x H x W), got dim={dim}')
        if not isinstance(block, dict) or 'type' not in block:
            raise ValueError(f'{name} needs block=dict(type=..., ...), got {block!r}')
        if num_frames is not None and num_frames < 1:
            raise ValueError(f'{self.frames_name} must be positive, got {num_frames}')
        self.block = build_block(dict(block, dim=3), in_channels, 3)
        self.num_frames = num_frames

    def forward(self, x: Tensor) -> Tensor:
        name, t = type(self).__name__, self.num_frames
        if t is None:
            raise RuntimeError(f'{name}.{self.frames_name} is not set: its owner must set the number of frames per '
                               'clip')
        if not torch.is_tensor(x) or x.dim() != 4:
            raise ValueError(f'{name} expects frames N*T x C x H x W, got '
                             f'{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}')
        n, c, h, w = x.shape
        if n % t:
            raise ValueError(f'{name}: batch {n} is not a multiple of {self.frames_name}={t} (whole clips)')
        y = self.block(x.view(n // t, t, c, h, w).transpose(1, 2))
        return y.transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f'{self.frames_name}={self.num_frames}'
