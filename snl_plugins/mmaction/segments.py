"""Spatio-temporal blocks in 2D video networks that fold time into the batch (TSM, TSN, TIN: N*T x C x H x W)."""
from mmengine.registry import MODELS

from ..frames import FramesNonlocal

__all__ = ['SegmentNonlocal']


@MODELS.register_module()
class SegmentNonlocal(FramesNonlocal):
    """Run a 3D block over T x H x W where the host holds the T segments of a clip in the batch (N*T x C x H x W).

    ``dict(type='SegmentNonlocal', num_segments=8, block=dict(type='SNL'), at='layer3.-1')`` in ``InjectNonlocal``'s
    ``blocks`` puts an SNL over all 8 segments of each clip into ``ResNetTSM``; without it the block would be a 2D
    (per-frame) one. ``in_channels`` comes from the host as for any block; ``dim`` (2 there) is replaced by 3.
    Registered in mmengine's root ``MODELS`` like the blocks, so every scope (and ``insert_nonlocal``) finds it.
    """
    frames_name = 'num_segments'

    def __init__(self, in_channels: int, num_segments: int, block: dict, dim: int = 2):
        super().__init__(in_channels, block, num_segments, dim)

    @property
    def num_segments(self) -> int:
        return self.num_frames
