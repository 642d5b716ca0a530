"""FramesNonlocal: a 3D block over the frames a host holds in its batch (the core of SegmentNonlocal, ClipNonlocal)."""
import pytest
import torch

from snl_plugins.frames import FramesNonlocal


def test_frames_are_folded_into_clips_and_back():
    torch.manual_seed(0)
    wrap = FramesNonlocal(8, dict(type='SNL', zero_init=False), num_frames=3).eval()
    assert wrap.block.dim == 3
    x = torch.randn(6, 8, 2, 2)  # 2 clips x 3 frames
    with torch.no_grad():
        y = wrap(x)
        expected = wrap.block(x.view(2, 3, 8, 2, 2).transpose(1, 2)).transpose(1, 2).reshape(6, 8, 2, 2)
        torch.testing.assert_close(y, expected)
        x2 = x.clone()
        x2[2] += 1  # the last frame of clip 0
        y2 = wrap(x2)
    assert not torch.allclose(y2[0], y[0]) and torch.equal(y2[3:], y[3:])  # mixes within a clip only


def test_frames_errors_are_named():
    with pytest.raises(ValueError, match='2D frame maps'):
        FramesNonlocal(8, dict(type='SNL'), 3, dim=3)
    with pytest.raises(ValueError, match='needs block=dict'):
        FramesNonlocal(8, 'SNL', 3)
    with pytest.raises(ValueError, match='num_frames must be positive'):
        FramesNonlocal(8, dict(type='SNL'), 0)
    wrap = FramesNonlocal(8, dict(type='SNL'))
    with pytest.raises(RuntimeError, match='FramesNonlocal.num_frames is not set'):
        wrap(torch.randn(6, 8, 2, 2))
    wrap.num_frames = 4
    with pytest.raises(ValueError, match='batch 6 is not a multiple of num_frames=4'):
        wrap(torch.randn(6, 8, 2, 2))
    with pytest.raises(ValueError, match='expects frames N\\*T x C x H x W'):
        wrap(torch.randn(6, 8, 2))
