"""RGB and optical flow of the same clip through the same augmentation, for MARS (:mod:`snl_plugins.mmaction.mars`).

``WithFlow(transforms=[...])`` runs mmaction2's own transforms twice per sample: on the RGB clip (the sample as the
data set gives it, ``modality='RGB'``) and on a flow view of it (``modality='Flow'``, the data set's frame
directory read with ``flow_filename_tmpl``, the same ``frame_inds``). Before each transform the random state
(numpy's and Python's) is saved and restored for the flow view, so random crops and flips draw the same numbers;
the views must also have the same frame size, so the same draws mean the same crop. The flow clip ends in
``results['flow']`` (a uint8 tensor, M x 2 x T x H x W after ``FormatShape('NCTHW')``), which
``PackActionInputs(algorithm_keys=('flow',))`` puts in the data sample.

``FlowAwareFlip`` is mmaction2's ``Flip`` with the flow-x inversion that optical flow needs when mirrored. mmaction2
1.2.0's ``Flip`` inverts frames 0, 2, 4, ... entirely (written for the 0.x layout of separate x and y frames), but
its ``RawFrameDecode`` now gives each flow frame as one H x W x 2 array (x, y), so ``Flip`` inverts both x and y of
every other frame and nothing of the rest. ``FlowAwareFlip`` inverts the x channel of every flow frame (255 - x, as
MARS's and mmaction2's JPEG flow encode 0 motion as the middle grey) and leaves y alone; for RGB it is ``Flip``.
"""
import random
from typing import List, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmaction.registry import TRANSFORMS

__all__ = ['FlowAwareFlip', 'WithFlow']


@TRANSFORMS.register_module()
class FlowAwareFlip(BaseTransform):
    """mmaction2's ``Flip`` (same arguments, same random draw), inverting flow-x in every flow frame.

    Works around mmaction2 1.2.0's ``Flip`` on stacked flow (see :mod:`snl_plugins.compat`, "Avoided rather than
    patched"); can go once ``Flip`` inverts the x channel of H x W x 2 flow frames itself."""

    def __init__(self, **flip_args):
        # imported here: mmaction.datasets.transforms costs ~0.7 s (scipy), paid only by pipelines that use it
        from mmaction.datasets.transforms import Flip
        self.flip = Flip(**flip_args)

    def transform(self, results: dict) -> dict:
        if results.get('modality') != 'Flow':
            return self.flip.transform(results)
        if self.flip.direction != 'horizontal' or self.flip.lazy:
            raise ValueError(f'FlowAwareFlip flips flow horizontally and eagerly only (got direction='
                             f'{self.flip.direction!r}, lazy={self.flip.lazy})')
        imgs = results['imgs']
        if any(img.ndim != 3 or img.shape[-1] != 2 for img in imgs):
            raise ValueError('FlowAwareFlip expects flow frames as H x W x 2 (x, y) arrays, as RawFrameDecode '
                             f'gives them; got shapes {sorted({img.shape for img in imgs})}')
        # flipped as plain images (no inversion by Flip), then flow-x inverted here
        results = self.flip.transform(dict(results, modality='RGB'))
        results['modality'] = 'Flow'
        if results['flip']:
            for img in results['imgs']:
                img[..., 0] = 255 - img[..., 0]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.flip!r})'


def _random_state():
    """The generators mmaction2's and torchvision's transforms draw from (numpy, Python, torch's CPU one)."""
    return np.random.get_state(), random.getstate(), torch.get_rng_state()


def _set_random_state(state) -> None:
    np.random.set_state(state[0])
    random.setstate(state[1])
    torch.set_rng_state(state[2])


def _same_state(a, b) -> bool:
    (np_a, py_a, torch_a), (np_b, py_b, torch_b) = a, b
    return (py_a == py_b and torch.equal(torch_a, torch_b)
            and all(np.array_equal(x, y) for x, y in zip(np_a, np_b)))


@TRANSFORMS.register_module()
class WithFlow(BaseTransform):
    """Apply ``transforms`` to the RGB clip and, with the same random draws, to the flow of the same frames.

    Args:
        transforms: mmaction2 transform configs, from decoding (``RawFrameDecode``) to ``FormatShape``; mirror
            with ``FlowAwareFlip`` (mmaction2's ``Flip`` is refused: it mangles H x W x 2 flow frames, see the
            module docstring).
        flow_filename_tmpl: names of the flow JPEGs in a frame directory, formatted with 'x' / 'y' and the frame
            index (mmaction2's ``'{}_{:05d}.jpg'``: ``x_00001.jpg``, ``y_00001.jpg``; MARS's own extraction
            writes ``'TVL1jpg_{}_{:05d}.jpg'``).
        flow_key: where the flow clip goes in the results.
    """

    def __init__(self, transforms: Sequence[dict], flow_filename_tmpl: str = '{}_{:05d}.jpg', flow_key: str = 'flow'):
        self.transforms: List = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms]
        plain_flips = [t for t in self.transforms if type(t).__name__ == 'Flip']
        if plain_flips:
            raise ValueError("WithFlow: use dict(type='FlowAwareFlip', ...) instead of 'Flip': mmaction2's Flip "
                             'inverts whole H x W x 2 flow frames (every other one) instead of the x channel')
        self.flow_filename_tmpl, self.flow_key = flow_filename_tmpl, flow_key

    def transform(self, results: dict) -> dict:
        if results.get('modality', 'RGB') != 'RGB':
            raise ValueError(f"WithFlow reads RGB samples (the data set's modality), got {results['modality']!r}")
        if 'imgs' in results:
            raise ValueError('WithFlow got decoded frames: put the decoding (RawFrameDecode) inside its transforms, '
                             'so that the flow view decodes its own frames')
        flow = dict(results, modality='Flow', filename_tmpl=self.flow_filename_tmpl)
        for t in self.transforms:
            before = _random_state()
            results = t(results)
            after_rgb = _random_state()
            _set_random_state(before)
            flow = t(flow)
            if not _same_state(after_rgb, _random_state()):
                raise RuntimeError(f'{t!r} drew different random numbers for the RGB and the flow clip of '
                                   f'{results.get("frame_dir")}, so they would not share the augmentation')
            if tuple(results.get('img_shape', ())) != tuple(flow.get('img_shape', ())):
                raise ValueError(f'RGB frames and flow frames of {results.get("frame_dir")} differ in size after '
                                 f'{t!r} ({results.get("img_shape")} vs {flow.get("img_shape")}): MARS needs flow '
                                 'computed on the RGB frames as stored, so that one crop fits both')
        results[self.flow_key] = torch.from_numpy(np.ascontiguousarray(flow['imgs']))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(transforms={self.transforms}, '
                f'flow_filename_tmpl={self.flow_filename_tmpl!r})')
