"""Feature and attention maps (Fig. 4): a block's output response, upsampled and overlaid on the input, and the
affinity row of a chosen query position as a heat map, for several checkpoints side by side.

The response is a per-position reduction over channels of the block's output Y (``norm``: ||Y_i||_2, the default;
``residual``: ||Y_i - X_i||_2, what the non-local branch added; ``mean``: the channel mean). The affinity row
``A[q, :]`` comes from the affinity the block used (``capture_affinities``), formed for that one row only
(``stability.affinity_rows``), so it works for factorised and fused affinities of any size. CGNL's kernel relates
(channel, position) elements, not positions: it has no affinity row.

Inputs are forwarded one at a time (their sizes may differ, as mmseg's test batches may not): samples of the config's
data split through its own pipeline (``--indices``), image files (``--images``, image models) or video files /
directories of frames (``--videos``, video and re-ID models). How the block's batch maps onto what is shown follows
the host's input layout (:data:`.common.LAYOUTS`):

- image: one block entry per image, grid h x w;
- frames (mmaction2 2D recognizers): every frame of every clip is an image to the 2D network, one entry each
  (``clip`` picks the frame); a block over a sequence, as VTN's over time, has no image positions (an error says so);
- video (mmaction2 3D recognizers) and tracklet (re-ID): a sample holds clips of T frames. A 3D block has one entry
  per clip, grid T' x h x w (input frame f lies in block frame f T' // T); a 2D block placed per frame (re-ID's
  ``dim=2``) has one entry per frame. One clip (``clip``) is shown at the chosen input frames (``frames``, default
  the middle one). The query is (y, x) or (t, y, x) in fractions of the grid; a 3D block's row spans T' x h x w and
  is shown at each shown frame on one colour scale (so frames compare), with the query marked in its own frame;
  without t the query lies in the first shown frame. A per-frame block's row is that frame's own.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['response_maps', 'query_index', 'sample_units', 'display_frame', 'collect_maps', 'overlay', 'plot_maps',
           'read_image', 'read_video', 'pack_input']


def response_maps(x: Tensor, y: Tensor, reduce: str = 'norm') -> Tensor:
    """B x (T x) H x W response of a block from its input ``x`` and output ``y`` (B x C x ...)."""
    x, y = x.float(), y.float()
    if reduce == 'norm':
        return y.norm(dim=1)
    if reduce == 'residual':
        return (y - x).norm(dim=1)
    if reduce == 'mean':
        return y.mean(dim=1)
    raise ValueError(f"reduce must be 'norm', 'residual' or 'mean', got {reduce!r}")


def query_index(grid: Sequence[int], query: Sequence[float], frame: int = 0) -> Tuple[int, List[int]]:
    """Flattened index and grid coordinates of a query at fractional (y, x) or (t, y, x) of a block's grid (H x W or
    T x H x W); ``frame`` is the block frame of a 3D grid when the query has no t."""
    grid = list(grid)
    if len(query) not in (2, 3):
        raise ValueError(f'a query is (y, x) or (t, y, x) fractions, got {list(query)}')
    coords = [min(int(q * g), g - 1) for q, g in zip(query[-2:], grid[-2:])]
    if len(grid) == 3:
        t = min(int(query[0] * grid[0]), grid[0] - 1) if len(query) == 3 else frame
        coords = [t] + coords
    index = 0
    for c, g in zip(coords, grid[-len(coords):]):
        index = index * g + c
    return index, coords


def sample_units(inputs, layout: str) -> List[Tensor]:
    """The first sample's units as the network saw them: images C x H x W, or clips C x T x H x W."""
    x = inputs[0]
    if layout == 'image':
        return [x]
    if layout == 'frames':  # the frames of every clip, each an image for the 2D network
        return list(x)
    if layout == 'video':
        return list(x)
    if layout == 'tracklet':
        return list(x.transpose(1, 2))
    raise ValueError(f'unknown input layout {layout!r}')


def display_frame(unit: Tensor, preprocessor=None, frame: Optional[int] = None) -> Tensor:
    """An image (C x H x W) or a frame of a clip (C x T x H x W) as H x W x 3 in [0, 1], normalisation undone where
    the preprocessor has one."""
    x = unit.detach().float().cpu()
    if x.dim() == 4:
        x = x[:, frame]
    mean, std = getattr(preprocessor, 'mean', None), getattr(preprocessor, 'std', None)
    if getattr(preprocessor, '_enable_normalize', True) and mean is not None and mean.numel() == x.shape[0]:
        x = x * std.float().cpu().view(-1, 1, 1) + mean.float().cpu().view(-1, 1, 1)
    if x.shape[0] != 3:
        x = x.mean(0, keepdim=True).expand(3, -1, -1)
    lo, hi = x.min(), x.max()
    x = (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)
    return x.permute(1, 2, 0)


def _key_grid(spatial: Sequence[int], m: int) -> Optional[List[int]]:
    """The ``m`` key positions' grid: the block's own, or 2 x 2 max-pooled over space (NL ``sub_sample``); None if
    neither."""
    spatial = list(spatial)
    pooled = spatial[:-2] + [spatial[-2] // 2, spatial[-1] // 2]
    return next((grid for grid in (spatial, pooled) if math.prod(grid) == m), None)


def _locate(sizes: Sequence[int], entry: int) -> Tuple[int, int]:
    """(call, index in that call's batch) of entry ``entry`` of batches of ``sizes`` laid end to end."""
    for call, size in enumerate(sizes):
        if entry < size:
            return call, entry
        entry -= size
    raise IndexError(entry)


@torch.no_grad()
def collect_maps(model: nn.Module, batch, block_name: str, block: nn.Module, query=(0.5, 0.5), reduce='norm',
                 clip: int = 0, frames: Optional[Sequence[int]] = None) -> dict:
    """One forward of ``batch`` (one sample); the block's response and the query's affinity row at each shown
    image / frame (``items``), with the displayed images."""
    from ..blocks import capture_affinities
    from .common import block_type, forward_batch, input_layout
    from .stability import affinity_rows
    calls = []
    handle = block.register_forward_hook(lambda module, args, output: calls.append((args[0].detach(),
                                                                                     output.detach())))
    try:
        with capture_affinities(model) as records:
            data = forward_batch(model, batch)
            affinities = list(records.get(block_name, []))
    finally:
        handle.remove()
    if not calls:
        raise RuntimeError(f'block {block_name} was not called in the forward')
    layout = input_layout(model)
    units = sample_units(data['inputs'], layout)
    if not 0 <= clip < len(units):
        raise IndexError(f'clip {clip} out of range: the input has {len(units)} clip(s)')
    unit = units[clip]
    num_frames = unit.shape[1] if unit.dim() == 4 else 1
    # an image has its one frame; a clip shows the chosen ones
    frames = [num_frames // 2] if not frames or unit.dim() == 3 else list(frames)
    if any(not 0 <= f < num_frames for f in frames):
        raise IndexError(f'frames {frames} out of range: a clip has {num_frames} frame(s)')
    sizes = [x.shape[0] for x, _ in calls]
    entries = sum(sizes)
    spatial = list(calls[0][0].shape[2:])
    if len(spatial) == 1:
        raise ValueError(f'block {block_name} runs over a sequence of {spatial[0]} (e.g. VTN\'s over time): it has no '
                         'image positions to overlay; stable_hypothesis and weight_spectrum apply')
    if entries == len(units):
        per = 'clip' if num_frames > 1 else 'image'
    elif num_frames > 1 and entries == len(units) * num_frames and len(spatial) == 2:
        per = 'frame'
    else:
        raise ValueError(f'block {block_name} ran on {entries} maps for {len(units)} unit(s) of {num_frames} '
                         f'frame(s) ({layout} input): cannot tell which map belongs to which input')
    kind = block_type(block)
    key_grid = _key_grid(spatial, affinities[0].shape[2]) if affinities else None
    has_rows = kind != 'CGNL' and key_grid is not None and affinities[0].shape[1] == math.prod(spatial)
    pre = getattr(model, 'data_preprocessor', None)
    items = []
    first_block_frame = frames[0] * spatial[0] // num_frames if per == 'clip' else 0
    q, q_grid = query_index(spatial, query, first_block_frame)
    for f in frames:
        call, b = _locate(sizes, clip * num_frames + f if per == 'frame' else clip)
        x, y = calls[call][0][b:b + 1], calls[call][1][b:b + 1]
        resp = response_maps(x, y, reduce)[0]
        block_frame = f * spatial[0] // num_frames if per == 'clip' else None
        item = dict(frame=f if num_frames > 1 else None, block_frame=block_frame,
                    image=display_frame(unit, pre, f if num_frames > 1 else None),
                    response=(resp[block_frame] if block_frame is not None else resp).cpu(),
                    response_range=(float(resp.min()), float(resp.max())), row=None, mark=None)
        if has_rows:
            affinity = affinities[call]
            row = affinity_rows(affinity, b, torch.tensor([q]))[0].float().cpu()
            grid = row.view(*key_grid)
            item.update(row=grid[block_frame] if block_frame is not None and grid.dim() == 3 else grid,
                        row_sum=float(row.sum()), row_range=(float(row.min()), float(row.max())))
            if block_frame is None or block_frame == q_grid[0]:  # the query's cell centre, as image fractions
                item['mark'] = [(c + 0.5) / g for c, g in zip(q_grid[-2:], spatial[-2:])]
        items.append(item)
    out = dict(block=block_name, type=kind, layout=layout, entries_per=per, spatial=spatial, query=q_grid,
               query_index=q, reduce=reduce, key_grid=key_grid if has_rows else None, clip=clip, clips=len(units),
               items=items)
    if not has_rows:
        out['no_affinity_row'] = ('CGNL relates (channel, position) elements: no position affinity'
                                  if kind == 'CGNL' else 'the affinity does not match the block\'s positions')
    return out


# --- inputs from files ------------------------------------------------------------------------------------------------
def read_image(path: str, size: Optional[Tuple[int, int]] = None) -> Tensor:
    """An image file as uint8 3 x H x W (RGB), resized to ``size`` (H, W) if given."""
    import numpy as np
    from PIL import Image
    img = Image.open(path).convert('RGB')
    if size is not None:
        img = img.resize((size[1], size[0]), Image.BILINEAR)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).contiguous()


IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def read_video(path: str, num_frames: int = 8, size: Optional[Tuple[int, int]] = None) -> Tensor:
    """``num_frames`` evenly spaced frames of a video file (OpenCV) or of a directory of frame images (in name
    order), as uint8 3 x T x H x W (RGB), resized to ``size`` (H, W) if given."""
    import os
    import os.path as osp
    if osp.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise FileNotFoundError(f'no frame images ({", ".join(IMAGE_EXTENSIONS)}) in {path}')
        picks = _evenly(len(files), num_frames)
        frames = [read_image(osp.join(path, files[i]), size) for i in picks]
    else:
        frames = _decode(path, num_frames, size)
    return torch.stack(frames, dim=1)


def _evenly(total: int, n: int) -> List[int]:
    if n < 1:
        raise ValueError(f'num_frames must be positive, got {n}')
    return [min(total - 1, (2 * i + 1) * total // (2 * n)) for i in range(n)]


def _decode(path: str, num_frames: int, size: Optional[Tuple[int, int]]) -> List[Tensor]:
    import os.path as osp

    import cv2
    if not osp.isfile(path):
        raise FileNotFoundError(f'video not found: {path}')
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr)
    cap.release()
    if not frames:
        raise ValueError(f'OpenCV decoded no frame from {path}')
    out = []
    for i in _evenly(len(frames), num_frames):
        rgb = cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)
        if size is not None:
            rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        out.append(torch.from_numpy(rgb).permute(2, 0, 1).contiguous())
    return out


def _swaps_channels(preprocessor) -> bool:
    """Whether the model's preprocessor swaps BGR / RGB (the data pipelines then load BGR, as OpenCV does)."""
    return any(bool(getattr(preprocessor, a, False)) for a in ('channel_conversion', '_channel_conversion', 'to_rgb'))


def pack_input(model: nn.Module, x: Tensor) -> dict:
    """An RGB uint8 image (3 x H x W) or clip (3 x T x H x W) as a one-sample data batch in the model's input layout
    and channel order."""
    from .common import LAYOUTS, input_layout
    layout = input_layout(model)
    want = 3 if layout == 'image' else 4
    if x.dim() != want:
        what = 'an image (--images)' if layout == 'image' else 'a video or frame directory (--videos)'
        raise ValueError(f'{type(model).__name__} takes {LAYOUTS[layout]} inputs: give it {what}')
    if _swaps_channels(getattr(model, 'data_preprocessor', None)):
        x = x.flip(0)
    if layout == 'video':
        x = x[None]  # one clip
    elif layout == 'frames':
        x = x.transpose(0, 1)  # one clip of T frames
    elif layout == 'tracklet':
        x = x.transpose(0, 1)[None]  # one clip of T frames
    return dict(inputs=[x], data_samples=None)


# --- plotting ---------------------------------------------------------------------------------------------------------
def overlay(ax, image: Tensor, heat: Tensor, alpha: float, title: str, value_range, mark=None):
    """Draw ``heat`` (a block's grid) bilinearly upsampled over ``image`` (H x W x 3 in [0, 1]) on ``ax``, scaled to
    ``value_range``, with an x at ``mark`` ((y, x) fractions of the image) if given."""
    h, w = image.shape[:2]
    up = F.interpolate(heat[None, None].float(), size=(h, w), mode='bilinear', align_corners=False)[0, 0]
    lo, hi = value_range
    up = ((up - lo) / (hi - lo)).clamp(0, 1) if hi > lo else torch.zeros_like(up)
    ax.imshow(image.numpy())
    ax.imshow(up.numpy(), cmap='jet', alpha=alpha, vmin=0, vmax=1)
    if mark is not None:
        ax.plot([mark[1] * w], [mark[0] * h], marker='x', color='white', markersize=8, mew=2)
    ax.set_title(title, fontsize=8)
    ax.axis('off')


def plot_maps(rows: List[Tuple[str, Tensor]], runs: List[dict], path: str, alpha: float = 0.5) -> str:
    """One row per shown image / frame; columns: the input, then per run the response overlay and the affinity-row
    heat map (a video's frames on one colour scale per input)."""
    from .common import matplotlib_pyplot, save_figure
    plt = matplotlib_pyplot()
    cols = 1 + 2 * len(runs)
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.4 * cols, 2.4 * len(rows)), squeeze=False)
    for i, (label, img) in enumerate(rows):
        axes[i][0].imshow(img.numpy())
        axes[i][0].set_title(label, fontsize=8)
        axes[i][0].axis('off')
        for j, run in enumerate(runs):
            item = run['items'][i]
            overlay(axes[i][1 + 2 * j], img, item['response'], alpha, f'{run["label"]}\n{run["type"]} response',
                     item['response_range'])
            ax = axes[i][2 + 2 * j]
            if item['row'] is None:
                ax.imshow(img.numpy())
                ax.set_title(f'{run["label"]}\nno affinity row', fontsize=8)
                ax.axis('off')
            else:
                at = '' if item['block_frame'] is None else f' (block frame {item["block_frame"]})'
                overlay(ax, img, item['row'], alpha, f'{run["label"]}\naffinity row of x{at}', item['row_range'],
                         item['mark'])
    return save_figure(fig, path)


def parse_args(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        description='Feature / attention maps (Fig. 4): a block\'s output response upsampled and overlaid on the '
        'input, and the affinity row of a query position as a heat map, several checkpoints side by side, for any '
        'model of our configs (classification, segmentation, video, re-ID). Inputs, one forward each: samples of '
        'the first model\'s data split (--indices, through the split\'s pipeline), image files (--images; image '
        'models) or video files / directories of frame images (--videos; video and re-ID models). Video: one clip '
        '(--clip) is shown at the chosen frames (--frames), a 3D block\'s map at the block frame holding each; the '
        'query is (y, x) or (t, y, x). Writes <out-dir>/feature_maps.{png,json}.')
    p.add_argument('--model', nargs=2, action='append', required=True, metavar=('CONFIG', 'CHECKPOINT'),
                   help='a config and its checkpoint; repeat for several models side by side')
    p.add_argument('--label', action='append', help='column label per --model (default: the config name)')
    p.add_argument('--split', default='test', choices=('train', 'val', 'test'))
    p.add_argument('--indices', type=int, nargs='+', default=[0, 1, 2, 3], help='dataset indices (default 0-3)')
    p.add_argument('--images', nargs='+', help='image files instead of dataset samples (image models)')
    p.add_argument('--videos', nargs='+', help='video files or directories of frame images instead of dataset '
                   'samples (video and re-ID models)')
    p.add_argument('--num-frames', type=int, default=8, help='--videos: evenly spaced frames taken (default 8)')
    p.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), help='resize --images / --videos frames')
    p.add_argument('--block', help='which block (name, pattern, substring or index; default: the first)')
    p.add_argument('--query', type=float, nargs='+', default=(0.5, 0.5), metavar='FRACTION',
                   help='query position: Y X, or T Y X for a 3D block, as fractions of its grid (default: the '
                   'centre of the first shown frame)')
    p.add_argument('--clip', type=int, default=0, help='video: which clip of a sample (default: the first)')
    p.add_argument('--frames', type=int, nargs='+', help='video: input frames to show (default: the middle one)')
    p.add_argument('--reduce', choices=('norm', 'residual', 'mean'), default='norm',
                   help='channel reduction of the response (default: L2 norm of the block output)')
    p.add_argument('--alpha', type=float, default=0.5, help='heat-map opacity')
    p.add_argument('--out-dir', default='analysis')
    p.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def _inputs(args, cfg, model) -> List[Tuple[str, dict]]:
    """(source label, one-sample data batch) per input."""
    if args.images and args.videos:
        raise SystemExit('give --images or --videos, not both')
    if args.images:
        return [(p, pack_input(model, read_image(p, args.size))) for p in args.images]
    if args.videos:
        return [(p, pack_input(model, read_video(p, args.num_frames, args.size))) for p in args.videos]
    from .common import build_loader
    loader = build_loader(cfg, args.split)
    ds = loader.dataset
    for i in args.indices:
        if not 0 <= i < len(ds):
            raise IndexError(f'index {i} out of range: the {args.split} split has {len(ds)} samples')
    return [(f'{args.split}[{i}]', loader.collate_fn([ds[i]])) for i in args.indices]


def _jsonable_item(source: str, maps: dict, item: dict) -> dict:
    r = item['response']
    out = dict(input=source, block_spatial=maps['spatial'], query=maps['query'], frame=item['frame'],
               block_frame=item['block_frame'], response=r,
               response_stats=dict(min=float(r.min()), max=float(r.max()), mean=float(r.mean())))
    if item['row'] is not None:
        row = item['row']
        flat = int(row.argmax())
        out.update(affinity_row=row, affinity_row_sum=item['row_sum'],
                   affinity_argmax=[flat // row.shape[-1], flat % row.shape[-1]])
    return out


def main(argv=None) -> dict:
    import os.path as osp

    from .common import load_model, output_paths, parse_cfg_options, progress, save_json, select_blocks, to_jsonable
    args = parse_args(argv)
    if args.label and len(args.label) != len(args.model):
        raise SystemExit(f'{len(args.label)} --label for {len(args.model)} --model')
    opts = parse_cfg_options(args.cfg_options)
    runs, rows, inputs = [], None, None
    bar = progress(len(args.model), not args.no_progress)
    for i, (config, ckpt) in enumerate(args.model):
        model, cfg = load_model(config, ckpt, opts)
        if inputs is None:
            inputs = _inputs(args, cfg, model)
        name, block = next(iter(select_blocks(model, [args.block] if args.block else None).items()))
        per_input = [(source, collect_maps(model, batch, name, block, tuple(args.query), args.reduce, args.clip,
                                           args.frames)) for source, batch in inputs]
        if rows is None:
            rows = [(osp.basename(source) + ('' if it['frame'] is None else f' frame {it["frame"]}'), it['image'])
                    for source, m in per_input for it in m['items']]
        first = per_input[0][1]
        label = args.label[i] if args.label else osp.splitext(osp.basename(config))[0]
        runs.append(dict(label=label, config=config, checkpoint=ckpt, type=first['type'],
                         items=[it for _, m in per_input for it in m['items']],
                         json=dict(label=label, config=config, checkpoint=ckpt, block=name, type=first['type'],
                                   layout=first['layout'], entries_per=first['entries_per'],
                                   block_spatial=first['spatial'], query=first['query'], key_grid=first['key_grid'],
                                   clip=first['clip'], note=first.get('no_affinity_row'),
                                   maps=[_jsonable_item(source, m, it)
                                         for source, m in per_input for it in m['items']])))
        bar.update()
    bar.close()
    png, js = output_paths(args.out_dir, 'feature_maps')
    plot_maps(rows, runs, png, args.alpha)
    out = dict(inputs=[source for source, _ in inputs], query_fraction=list(args.query), reduce=args.reduce,
               runs=[run['json'] for run in runs])
    save_json(out, js)
    print(f'wrote {png} and {js}')
    return to_jsonable(out)
