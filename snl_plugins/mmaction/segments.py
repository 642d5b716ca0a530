"""Spatio-temporal blocks in 2D video networks that fold time into the batch (TSM, TSN, TIN: N*T x C x H x W)."""
from mmengine.registry import MODELS
from torch import Tensor, nn

from ..inject import build_block

__all__ = ['SegmentNonlocal']


@MODELS.register_module()
class SegmentNonlocal(nn.Module):
    """Run a 3D block over T x H x W where the host holds the T segments of a clip in the batch (N*T x C x H x W).

    ``dict(type='SegmentNonlocal', num_segments=8, block=dict(type='SNL'), at='layer3.-1')`` in ``InjectNonlocal``'s
    ``blocks`` puts an SNL over all 8 segments of each clip into ``ResNetTSM``; without it the block would be a 2D
    (per-frame) one. ``in_channels`` comes from the host as for any block; ``dim`` (2 there) is replaced by 3.
    Registered in mmengine's root ``MODELS`` like the blocks, so every scope (and ``insert_nonlocal``) finds it.
    """

    def __init__(self, in_channels: int, num_segments: int, block: dict, dim: int = 2):
        super().__init__()
        if dim != 2:
            raise ValueError(f'SegmentNonlocal wraps a 2D host position (N*T x C x H x W); got dim={dim}')
        if num_segments < 1:
            raise ValueError(f'num_segments must be positive, got {num_segments}')
        self.num_segments = num_segments
        self.block = build_block(dict(block, dim=3), in_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        if nt % self.num_segments:
            raise ValueError(f'SegmentNonlocal: batch {nt} is not a multiple of num_segments={self.num_segments}')
        y = x.view(nt // self.num_segments, self.num_segments, c, h, w).transpose(1, 2)
        y = self.block(y)
        return y.transpose(1, 2).reshape(nt, c, h, w)

    def extra_repr(self) -> str:
        return f'num_segments={self.num_segments}'
