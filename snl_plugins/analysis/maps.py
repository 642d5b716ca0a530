"""Feature and attention maps (Fig. 4): a block's output response, upsampled and overlaid on the input, and the
affinity row of a chosen query position as a heat map, for several checkpoints side by side.

The response is a per-position reduction over channels of the block's output Y (``norm``: ||Y_i||_2, the default;
``residual``: ||Y_i - X_i||_2, what the non-local branch added; ``mean``: the channel mean). The affinity row
``A[q, :]`` comes from the affinity the block used (``capture_affinities``), formed for that one row only
(``stability.affinity_rows``), so it works for factorised and fused affinities of any size. For video (B x C x T x H
x W) one frame is shown (``frame``, default the middle one). CGNL's kernel relates (channel, position) elements,
not positions: it has no affinity row.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['display_images', 'response_maps', 'query_index', 'collect_maps', 'plot_maps', 'load_images']


def _squeeze_to(t: Tensor, dims: int) -> Tensor:
    """Drop leading singleton / clip dimensions (mmaction's B x clips x C x T x H x W) until ``dims`` remain."""
    while t.dim() > dims:
        t = t[0]
    return t


def display_images(inputs: Tensor, preprocessor=None, frame: Optional[int] = None) -> List[Tensor]:
    """The network inputs as H x W x 3 images in [0, 1] (normalisation undone where the preprocessor has one)."""
    if isinstance(inputs, (list, tuple)):
        inputs = torch.stack(list(inputs))
    out = []
    for x in inputs:
        x = x.detach().float().cpu()
        if x.dim() >= 4:  # C x T x H x W (after dropping clip dims)
            x = _squeeze_to(x, 4)
            t = x.shape[1] // 2 if frame is None else min(frame, x.shape[1] - 1)
            x = x[:, t]
        mean, std = getattr(preprocessor, 'mean', None), getattr(preprocessor, 'std', None)
        if getattr(preprocessor, '_enable_normalize', False) and mean is not None and mean.numel() == x.shape[0]:
            x = x * std.float().cpu().view(-1, 1, 1) + mean.float().cpu().view(-1, 1, 1)
        if x.shape[0] != 3:
            x = x.mean(0, keepdim=True).expand(3, -1, -1)
        lo, hi = x.min(), x.max()
        x = (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)
        out.append(x.permute(1, 2, 0))
    return out


def _frame(t: Tensor, frame: Optional[int]) -> Tensor:
    """B x C x (T x) H x W -> B x C x H x W (one frame)."""
    if t.dim() == 5:
        idx = t.shape[2] // 2 if frame is None else min(frame, t.shape[2] - 1)
        return t[:, :, idx]
    if t.dim() == 3:  # B x C x L: a 1-pixel-high image
        return t.unsqueeze(2)
    return t


def response_maps(x: Tensor, y: Tensor, reduce: str = 'norm', frame: Optional[int] = None) -> Tensor:
    """B x H x W response of a block from its input ``x`` and output ``y``."""
    x, y = _frame(x.float(), frame), _frame(y.float(), frame)
    if reduce == 'norm':
        return y.norm(dim=1)
    if reduce == 'residual':
        return (y - x).norm(dim=1)
    if reduce == 'mean':
        return y.mean(dim=1)
    raise ValueError(f"reduce must be 'norm', 'residual' or 'mean', got {reduce!r}")


def query_index(spatial: Sequence[int], query: Tuple[float, float], frame: Optional[int] = None) -> Tuple[int, list]:
    """Flattened position index and grid coordinates of a query at fractional (y, x) of the block's grid."""
    spatial = list(spatial)
    h, w = (spatial[-2], spatial[-1]) if len(spatial) >= 2 else (1, spatial[-1])
    qy, qx = min(int(query[0] * h), h - 1), min(int(query[1] * w), w - 1)
    if len(spatial) == 3:
        t = spatial[0] // 2 if frame is None else min(frame, spatial[0] - 1)
        return (t * h + qy) * w + qx, [t, qy, qx]
    return qy * w + qx, [qy, qx]


def _key_grid(spatial: Sequence[int], m: int) -> List[int]:
    """The key positions' grid: the block's own, or 2 x 2 max-pooled over space (NL ``sub_sample``)."""
    spatial = list(spatial)
    if math.prod(spatial) == m:
        return spatial
    pooled = spatial[:-2] + [spatial[-2] // 2, spatial[-1] // 2] if len(spatial) >= 2 else [spatial[0] // 2]
    if math.prod(pooled) == m:
        return pooled
    return [m]


@torch.no_grad()
def collect_maps(model: nn.Module, batch, block_name: str, block: nn.Module, query=(0.5, 0.5), reduce='norm',
                 frame: Optional[int] = None) -> dict:
    """One forward of ``batch``; the block's response maps and the affinity row of the query, per input."""
    from ..blocks import capture_affinities
    from .common import block_type, forward_batch
    from .stability import affinity_rows
    seen = {}

    def hook(module, args, output):
        seen.setdefault('x', args[0].detach())
        seen['y'] = output.detach()
    handle = block.register_forward_hook(hook)
    try:
        with capture_affinities(model) as records:
            data = forward_batch(model, batch)
            affinities = list(records.get(block_name, []))
    finally:
        handle.remove()
    if 'y' not in seen:
        raise RuntimeError(f'block {block_name} was not called in the forward')
    x, y = seen['x'], seen['y']
    spatial = list(x.shape[2:])
    resp = response_maps(x, y, reduce, frame)
    q, q_grid = query_index(spatial, query, frame)
    out = dict(block=block_name, type=block_type(block), spatial=spatial, query=q_grid, query_index=q,
               reduce=reduce, responses=resp.cpu(), rows=None, key_grid=None, inputs=data['inputs'])
    kind = out['type']
    if affinities and kind != 'CGNL':
        affinity = affinities[0]
        bsz, n, m = affinity.shape
        if n == math.prod(spatial) and bsz == x.shape[0]:
            rows = torch.stack([affinity_rows(affinity, b, torch.tensor([q]))[0] for b in range(bsz)]).float()
            key_grid = _key_grid(spatial, m)
            out['key_grid'] = key_grid
            grid = rows.view(bsz, *key_grid)
            if grid.dim() == 4:  # video: the query's frame
                grid = grid[:, q_grid[0]]
            out['rows'] = grid.reshape(bsz, *(grid.shape[1:] if grid.dim() == 3 else (1, grid.shape[-1]))).cpu()
    if out['rows'] is None:
        out['no_affinity_row'] = ('CGNL relates (channel, position) elements: no position affinity'
                                  if kind == 'CGNL' else 'the affinity does not match the block\'s positions')
    return out


def load_images(paths: Sequence[str], size: Optional[Tuple[int, int]] = None) -> dict:
    """Image files as a data batch (``inputs``: uint8 C x H x W tensors), resized to ``size`` (H, W) if given."""
    import numpy as np
    from PIL import Image
    tensors = []
    for p in paths:
        img = Image.open(p).convert('RGB')
        if size is not None:
            img = img.resize((size[1], size[0]), Image.BILINEAR)
        tensors.append(torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).contiguous())
    return dict(inputs=tensors, data_samples=None)


def _overlay(ax, image: Tensor, heat: Tensor, alpha: float, title: str, mark=None):
    h, w = image.shape[:2]
    up = F.interpolate(heat[None, None].float(), size=(h, w), mode='bilinear', align_corners=False)[0, 0]
    lo, hi = up.min(), up.max()
    up = (up - lo) / (hi - lo) if hi > lo else torch.zeros_like(up)
    ax.imshow(image.numpy())
    ax.imshow(up.numpy(), cmap='jet', alpha=alpha)
    if mark is not None:
        ax.plot([mark[1]], [mark[0]], marker='x', color='white', markersize=8, mew=2)
    ax.set_title(title, fontsize=8)
    ax.axis('off')


def plot_maps(images: List[Tensor], runs: List[dict], path: str, alpha: float = 0.5) -> str:
    """Rows: inputs; columns: the input, then per run the response overlay and the affinity-row heat map."""
    from .common import matplotlib_pyplot
    plt = matplotlib_pyplot()
    cols = 1 + 2 * len(runs)
    fig, axes = plt.subplots(len(images), cols, figsize=(2.4 * cols, 2.4 * len(images)), squeeze=False)
    for i, img in enumerate(images):
        axes[i][0].imshow(img.numpy())
        axes[i][0].set_title('input', fontsize=8)
        axes[i][0].axis('off')
        for j, run in enumerate(runs):
            m = run['maps']
            _overlay(axes[i][1 + 2 * j], img, m['responses'][i], alpha, f'{run["label"]}\n{m["type"]} response')
            ax = axes[i][2 + 2 * j]
            if m['rows'] is None:
                ax.imshow(img.numpy())
                ax.set_title(f'{run["label"]}\nno affinity row', fontsize=8)
                ax.axis('off')
            else:
                h, w = img.shape[:2]
                grid = m['spatial'][-2:] if len(m['spatial']) >= 2 else [1, m['spatial'][0]]
                qy, qx = m['query'][-2:] if len(m['query']) >= 2 else (0, m['query'][0])
                mark = ((qy + 0.5) * h / grid[0], (qx + 0.5) * w / grid[1])
                _overlay(ax, img, m['rows'][i], alpha, f'{run["label"]}\naffinity row of x', mark)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def parse_args(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        description='Feature / attention maps (Fig. 4): a block\'s output response upsampled and overlaid on the '
        'input, and the affinity row of a query position as a heat map, several checkpoints side by side. Inputs '
        'are samples of the first model\'s data split (--indices) or image files (--images). Writes '
        '<out-dir>/feature_maps.{png,json}.')
    p.add_argument('--model', nargs=2, action='append', required=True, metavar=('CONFIG', 'CHECKPOINT'),
                   help='a config and its checkpoint; repeat for several models side by side')
    p.add_argument('--label', action='append', help='column label per --model (default: the config name)')
    p.add_argument('--split', default='test', choices=('train', 'val', 'test'))
    p.add_argument('--indices', type=int, nargs='+', default=[0, 1, 2, 3], help='dataset indices (default 0-3)')
    p.add_argument('--images', nargs='+', help='image files instead of dataset samples (2D image models)')
    p.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), help='resize --images to this size')
    p.add_argument('--block', help='which block (name, pattern, substring or index; default: the first)')
    p.add_argument('--query', type=float, nargs=2, default=(0.5, 0.5), metavar=('Y', 'X'),
                   help='query position as fractions of height and width (default: the centre)')
    p.add_argument('--frame', type=int, help='video: which frame of the block\'s grid / the input (default middle)')
    p.add_argument('--reduce', choices=('norm', 'residual', 'mean'), default='norm',
                   help='channel reduction of the response (default: L2 norm of the block output)')
    p.add_argument('--alpha', type=float, default=0.5, help='heat-map opacity')
    p.add_argument('--out-dir', default='analysis')
    p.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def _dataset_batch(cfg, split: str, indices: Sequence[int]):
    from .common import build_loader
    loader = build_loader(cfg, split)
    ds = loader.dataset
    for i in indices:
        if not 0 <= i < len(ds):
            raise IndexError(f'index {i} out of range: the {split} split has {len(ds)} samples')
    return loader.collate_fn([ds[i] for i in indices])


def main(argv=None) -> dict:
    import os.path as osp

    from .common import load_model, output_paths, parse_cfg_options, progress, save_json, select_blocks
    args = parse_args(argv)
    if args.label and len(args.label) != len(args.model):
        raise SystemExit(f'{len(args.label)} --label for {len(args.model)} --model')
    opts = parse_cfg_options(args.cfg_options)
    runs, images, batch = [], None, None
    bar = progress(len(args.model), not args.no_progress)
    for i, (config, ckpt) in enumerate(args.model):
        model, cfg = load_model(config, ckpt, opts)
        if batch is None:
            batch = load_images(args.images, args.size) if args.images else \
                _dataset_batch(cfg, args.split, args.indices)
        name, block = next(iter(select_blocks(model, [args.block] if args.block else None).items()))
        maps = collect_maps(model, batch, name, block, tuple(args.query), args.reduce, args.frame)
        if images is None:
            images = display_images(maps['inputs'], getattr(model, 'data_preprocessor', None), args.frame)
        label = args.label[i] if args.label else osp.splitext(osp.basename(config))[0]
        runs.append(dict(label=label, config=config, checkpoint=ckpt, maps=maps))
        bar.update()
    bar.close()
    png, js = output_paths(args.out_dir, 'feature_maps')
    plot_maps(images, runs, png, args.alpha)
    sources = args.images if args.images else [f'{args.split}[{i}]' for i in args.indices]
    out = dict(inputs=sources, query_fraction=list(args.query), reduce=args.reduce, runs=[])
    for run in runs:
        m = run['maps']
        per_input = []
        for b, src in enumerate(sources):
            r = m['responses'][b]
            entry = dict(input=src, response=r, response_stats=dict(min=float(r.min()), max=float(r.max()),
                                                                    mean=float(r.mean())))
            if m['rows'] is not None:
                row = m['rows'][b]
                flat = int(row.argmax())
                entry.update(affinity_row=row, affinity_row_sum=float(row.sum()),
                             affinity_argmax=[flat // row.shape[-1], flat % row.shape[-1]])
            per_input.append(entry)
        out['runs'].append(dict(label=run['label'], config=run['config'], checkpoint=run['checkpoint'],
                                block=m['block'], type=m['type'], block_spatial=m['spatial'], query=m['query'],
                                key_grid=m['key_grid'], note=m.get('no_affinity_row'), maps=per_input))
    save_json(out, js)
    print(f'wrote {png} and {js}')
    return out
