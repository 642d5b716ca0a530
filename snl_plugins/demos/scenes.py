"""The default demo (``make demo``): segmentation of digit scenes where one region's class is told only by the rest of
the image, DeepLabV3-R18 plain, + NL, + SNL and + gSNL.

Data (real, offline): each 64 x 64 scene is a 4 x 4 grid of 16 x 16 cells; four cells hold, at random, two different
handwritten samples of one digit ``d``, one sample of another digit ``e``, and a *box*: the same blank square in
every scene, whose mask label is ``d``, the digit that appears twice. Nothing inside the box tells its class; only the
rest of the image does. Masks label the square of each digit's cell (14 x 14, the digit's extent; strokes alone
would be thinner than DeepLabV3's output stride of 8 can resolve) and of the box with the class ``1 + digit``;
everything else is background (0). Scenes are written in VOC2012's layout (``VOCdevkit/VOC2012/{JPEGImages,
SegmentationClass,ImageSets/Segmentation}``, palette PNG masks); training scenes use digits of a fixed stratified
split's training part, held-out scenes its held-out part. ``layout.json`` keeps each scene's box corner and digit cells.

Metrics: box accuracy (the share of box pixels given the class of the digit seen twice: the context metric) and
mmseg's aAcc / mIoU / mAcc / fwIoU. Pictures: ``scenes.png``, held-out scenes with each model's prediction and, for
every model with a block, the affinity of a query at the box's centre drawn over the image (captured by
:func:`snl_plugins.analysis.maps.collect_maps`); ``affinity.json``, the share of that affinity on the repeated digit's
cells over all held-out scenes.
"""
from __future__ import annotations

import json
import pickle
import re
import textwrap
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .data import digit_split, digits_uint8, upsample
from .harness import Metric, Model, Task, save_small_png, scalars

__all__ = ['CANVAS', 'CELL', 'GRID', 'BOX', 'ITERS', 'MODELS', 'palette', 'write_digit_scenes', 'box_accuracy',
           'test_metrics', 'affinity_shares', 'ScenesTask']

CANVAS, CELL, GRID = 64, 16, 4
BOX = CELL - 4  # the box's side: a blank square inside its cell
BOX_VALUE = 200
ITERS = 1200  # the configs' schedule (train_cfg.max_iters)
CFG_DIR = 'configs/segmentation/demo'
MODELS = (Model('plain', 'DeepLabV3-R18', f'{CFG_DIR}/deeplabv3_r18-d8_1xb8-1200it_digits-64x64.py'),
          Model('nl', 'DeepLabV3-R18 + NL', f'{CFG_DIR}/deeplabv3_r18-d8-nl_1xb8-1200it_digits-64x64.py'),
          Model('snl', 'DeepLabV3-R18 + SNL', f'{CFG_DIR}/deeplabv3_r18-d8-snl_1xb8-1200it_digits-64x64.py'),
          Model('gsnl', 'DeepLabV3-R18 + gSNL', f'{CFG_DIR}/deeplabv3_r18-d8-gsnl_1xb8-1200it_digits-64x64.py'))
SEG_METRICS = ('aAcc', 'mIoU', 'mAcc', 'fwIoU')
SHOWN_SCENES = 4


def palette() -> np.ndarray:
    """256 x 3 colours of the masks (0 background black, 1..10 the digits, 255 white)."""
    pal = np.zeros((256, 3), np.uint8)
    pal[1:11] = [[(37 * i) % 256, (91 * i + 60) % 256, (151 * i + 120) % 256] for i in range(1, 11)]
    pal[255] = 255
    return pal


def _scene(rng, images, labels, pool):
    """One scene: (grey image, mask, layout) with the layout's corners in pixels."""
    img = rng.integers(0, 24, (CANVAS, CANVAS)).astype(np.uint8)
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    d, e = rng.choice(10, size=2, replace=False)
    a, b = rng.choice(pool[labels[pool] == d], size=2, replace=False)
    c = rng.choice(pool[labels[pool] == e])
    cells = rng.choice(GRID * GRID, size=4, replace=False)
    corners = [((cell // GRID) * CELL, (cell % GRID) * CELL) for cell in cells]
    for sample, (y, x) in zip((a, b, c), corners[:3]):
        patch = upsample(images[sample], CELL)
        img[y:y + CELL, x:x + CELL] = np.maximum(img[y:y + CELL, x:x + CELL], patch)
        mask[y + 1:y + CELL - 1, x + 1:x + CELL - 1] = 1 + labels[sample]
    y, x = corners[3]
    img[y + 2:y + 2 + BOX, x + 2:x + 2 + BOX] = BOX_VALUE
    mask[y + 1:y + CELL - 1, x + 1:x + CELL - 1] = 1 + d
    layout = dict(box=[int(y + 2), int(x + 2)], digit=int(d), twice=[list(map(int, c)) for c in corners[:2]],
                  once=list(map(int, corners[2])))
    return img, mask, layout


def write_digit_scenes(root, n_train: int = 400, n_val: int = 100, seed: int = 0) -> str:
    """Write the scenes in VOC2012's layout under ``root``.

    Args:
        root: output folder; ``root/layout.json`` holds each scene's box corner, its class's digit, and the corners
            of the cells of the digit seen twice (``twice``) and of the other digit (``once``).
        n_train: training scenes (digits of the split's training part).
        n_val: held-out scenes (digits of the split's held-out part).
        seed: the scenes' random generator seed.

    Returns:
        The ``data_root`` of the configs (``root/VOCdevkit/VOC2012``).
    """
    from PIL import Image
    images, labels = digits_uint8()
    train_pool, val_pool = digit_split(labels)
    rng = np.random.default_rng(seed)
    voc = Path(root) / 'VOCdevkit' / 'VOC2012'
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    layouts, splits = {}, {'train': [], 'val': []}
    pal = palette().reshape(-1).tolist()
    for split, n, pool in (('train', n_train, train_pool), ('val', n_val, val_pool)):
        for i in range(n):
            name = f'digits_{split}_{i:05d}'
            img, mask, layout = _scene(rng, images, labels, pool)
            Image.fromarray(np.repeat(img[..., None], 3, axis=2)).save(voc / 'JPEGImages' / f'{name}.jpg', quality=95)
            png = Image.fromarray(mask, mode='P')
            png.putpalette(pal)
            png.save(voc / 'SegmentationClass' / f'{name}.png')
            layouts[name] = layout
            splits[split].append(name)
    for split, names in splits.items():
        (voc / 'ImageSets' / 'Segmentation' / f'{split}.txt').write_text('\n'.join(names) + '\n')
    (Path(root) / 'layout.json').write_text(json.dumps(layouts))
    return str(voc)


# ----------------------------------------------------------------------------------------------------- metrics
def load_predictions(path: Path) -> Dict[str, np.ndarray]:
    """``{scene name: H x W predicted classes}`` from ``tools/test.py --out``'s pickle."""
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    return {Path(s['img_path']).stem: np.asarray(s['pred_sem_seg']['data']).squeeze(0).astype(np.uint8)
            for s in samples}


def box_accuracy(preds: Dict[str, np.ndarray], data_root: str, layouts: dict) -> float:
    """Share of box pixels predicted as the box's class (the digit seen twice elsewhere), in percent."""
    from PIL import Image
    hit = total = 0
    for name, pred in preds.items():
        y, x = layouts[name]['box']
        gt = np.asarray(Image.open(Path(data_root) / 'SegmentationClass' / f'{name}.png'))
        sl = (slice(y, y + BOX), slice(x, x + BOX))
        hit += int((pred[sl] == gt[sl]).sum())
        total += gt[sl].size
    if not total:
        raise ValueError('no box pixels: no predictions, or none of a scene in layout.json')
    return round(100.0 * hit / total, 2)


def test_metrics(output: str) -> Dict[str, float]:
    """aAcc, mIoU, mAcc, fwIoU from ``tools/test.py``'s last ``Iter(test)`` line."""
    lines = [ln for ln in output.splitlines() if 'Iter(test)' in ln and 'mIoU' in ln]
    if not lines:
        raise RuntimeError('tools/test.py printed no "Iter(test) ... mIoU" line')
    return {k: float(v) for k, v in re.findall(r'(aAcc|mIoU|mAcc|fwIoU): ([\d.]+|nan)', lines[-1])}


def _cell_mask(corners: Sequence[Sequence[int]], grid: Sequence[int]) -> np.ndarray:
    """Which positions of a block's ``grid`` (h x w over the canvas) lie in the given 16 x 16 cells."""
    h, w = grid
    ys = (np.arange(h) + 0.5) * CANVAS / h
    xs = (np.arange(w) + 0.5) * CANVAS / w
    inside = np.zeros((h, w), bool)
    for y, x in corners:
        inside |= ((ys >= y) & (ys < y + CELL))[:, None] & ((xs >= x) & (xs < x + CELL))[None, :]
    return inside


def affinity_shares(row: np.ndarray, layout: dict) -> Dict[str, float]:
    """Shares of a non-negative affinity row (key grid h x w over the canvas) on the cells of the digit seen twice,
    of the other digit, and of the box's own cell."""
    row = np.clip(np.asarray(row, np.float64), 0, None)
    total = row.sum()
    if total <= 0:
        return dict(twice=float('nan'), once=float('nan'), box=float('nan'))
    box_cell = [[layout['box'][0] - 2, layout['box'][1] - 2]]
    return {k: float(row[_cell_mask(c, row.shape)].sum() / total)
            for k, c in (('twice', layout['twice']), ('once', [layout['once']]), ('box', box_cell))}


def _data_options(data_root: str) -> Dict[str, str]:
    """The configs' keys that hold the data's place, set to ``data_root``."""
    return {k: data_root for k in ('train_dataloader.dataset.datasets.0.data_root', 'val_dataloader.dataset.data_root',
                                   'test_dataloader.dataset.data_root')}


# ------------------------------------------------------------------------------------------------------ pictures
def _box_query(layout: dict) -> tuple:
    """The box's centre as (y, x) fractions of the image (``collect_maps``'s query)."""
    y, x = layout['box']
    return ((y + BOX / 2) / CANVAS, (x + BOX / 2) / CANVAS)


def _capture(run: dict, cfg_options: dict, layouts: dict) -> Dict[str, dict]:
    """Per held-out scene, the affinity row of a query at the box's centre (``collect_maps``) for one trained model."""
    from ..analysis.common import build_loader, load_model, select_blocks
    from ..analysis.maps import collect_maps
    model, cfg = load_model(run['config'], run['checkpoint'], cfg_options)
    name, block = next(iter(select_blocks(model).items()))
    loader = build_loader(cfg, 'test')
    out = {}
    for i in range(len(loader.dataset)):
        sample = loader.dataset[i]
        scene = Path(sample['data_samples'].img_path).stem
        maps = collect_maps(model, loader.collate_fn([sample]), name, block, _box_query(layouts[scene]))
        item = maps['items'][0]
        out[scene] = dict(row=item['row'].numpy(), mark=item['mark'], block=name, type=maps['type'])
    return out


def _scenes_figure(path: Path, data_root: str, names: Sequence[str], layouts: dict, runs: List[dict],
                   preds: Dict[str, Dict[str, np.ndarray]], rows: Dict[str, Dict[str, dict]]) -> Path:
    """Rows: held-out scenes; columns: the image (box outlined), the ground truth, each model's prediction and, for a
    model with a block, its affinity of the box's centre over the image."""
    import torch
    from PIL import Image

    from ..analysis.common import matplotlib_pyplot
    from ..analysis.maps import overlay
    plt = matplotlib_pyplot()
    # tab10 for the 10 digit classes on black: the masks' own palette has near-black entries
    pal = np.zeros((256, 3), np.uint8)
    pal[1:11] = (np.asarray(plt.get_cmap('tab10').colors) * 255).astype(np.uint8)
    columns = [('image', None), ('ground truth', None)]
    for r in runs:
        short = r['model'].split(' + ')[1] if ' + ' in r['model'] else 'plain'
        columns.append((f'{short}\nprediction', ('pred', r['model'])))
        if r['model'] in rows:
            columns.append((f'{short}: affinity\nof x (on the box)', ('row', r['model'])))
    fig, axes = plt.subplots(len(names), len(columns), figsize=(1.45 * len(columns), 1.55 * len(names)),
                             squeeze=False)
    for i, name in enumerate(names):
        img = np.asarray(Image.open(Path(data_root) / 'JPEGImages' / f'{name}.jpg').convert('RGB'))
        gt = np.asarray(Image.open(Path(data_root) / 'SegmentationClass' / f'{name}.png'))
        y, x = layouts[name]['box']
        for j, (title, what) in enumerate(columns):
            ax = axes[i][j]
            if what is None:
                ax.imshow(img if title == 'image' else pal[gt], interpolation='nearest')
                ax.set_title(title if i == 0 else '', fontsize=7)
                ax.axis('off')
            elif what[0] == 'pred':
                ax.imshow(pal[preds[what[1]][name]], interpolation='nearest')
                ax.set_title(title if i == 0 else '', fontsize=7)
                ax.axis('off')
            else:
                rec = rows[what[1]][name]
                row = torch.from_numpy(np.asarray(rec['row']))
                image = torch.from_numpy(img.astype(np.float32) / 255.0)
                overlay(ax, image, row, 0.55, title if i == 0 else '', (float(row.min()), float(row.max())),
                        rec['mark'])
                ax.title.set_fontsize(7)
            if title == 'image':
                ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), BOX, BOX, fill=False, ec='red', lw=1))
    fig.tight_layout(pad=0.3)
    return save_small_png(fig, path)


# ----------------------------------------------------------------------------------------------------------- task
class ScenesTask(Task):
    """``tools/demo.py --task scenes`` (the default): the digit scenes, DeepLabV3-R18 plain, + NL, + SNL, + gSNL."""
    name = 'scenes'
    title = 'digit scenes (box = the digit seen twice), DeepLabV3-R18'
    models = MODELS
    metrics = (Metric('box_acc', 'box accuracy (%)', 'share of box pixels given the class of the digit that appears '
                      'twice: only context tells it; chance among the 10 digits is 10%'),
               Metric('mIoU', 'mIoU (%)', "mmseg's mean IoU over background and the 10 digits"))
    options = dict(iters=ITERS, train_size=400, test_size=100)
    default_seeds = (0,)
    step = 'iteration'

    def write_data(self, data_dir: Path, options: dict) -> dict:
        data_root = write_digit_scenes(data_dir, options['train_size'], options['test_size'])
        return dict(data_root=data_root, layout=str(data_dir / 'layout.json'), n_train=options['train_size'],
                    n_test=options['test_size'])

    def cfg_options(self, info: dict, seed: int, options: dict) -> List[str]:
        iters = options['iters']
        # four held-out evaluations along the way draw the curves; the reported numbers are tools/test.py's
        data = [f'{k}={v}' for k, v in _data_options(info['data_root']).items()]
        return data + [f'randomness.seed={seed}', f'train_cfg.max_iters={iters}',
                       f'train_cfg.val_interval={max(1, iters // 4)}', f'default_hooks.checkpoint.interval={iters}',
                       f'param_scheduler.0.end={iters}', f'default_hooks.logger.interval={max(1, min(50, iters // 8))}']

    def test_args(self, work_dir: Path) -> List[str]:
        return ['--out', str(work_dir / 'preds.pkl')]

    def test_metrics(self, output: str, work_dir: Path, info: dict) -> Dict[str, float]:
        layouts = json.loads(Path(info['layout']).read_text())
        preds = load_predictions(work_dir / 'preds.pkl')
        return dict(test_metrics(output), box_acc=box_accuracy(preds, info['data_root'], layouts))

    def curves(self, work_dir: Path) -> dict:
        records = scalars(work_dir)
        train = [r for r in records if 'loss' in r]
        val = [r for r in records if 'mIoU' in r]
        return dict(train_step=[int(r['step']) for r in train], train_loss=[float(r['loss']) for r in train],
                    val_step=[int(r['step']) for r in val], val=[float(r['mIoU']) for r in val], val_label='mIoU (%)',
                    step_time=float(np.mean([r['time'] for r in train])) if train else float('nan'))

    def progress(self, line: str):
        m = re.search(r'Iter\(val\)\s*\[\s*\d+/\d+\].*?mIoU: ([\d.]+)', line)
        return f'held-out mIoU {float(m.group(1)):.1f} (display only)' if m else None

    def pictures(self, out: Path, runs: List[dict], info: dict, root: Path) -> Tuple[Dict[str, str], str]:
        """``scenes.png`` (the first seed's models on a few held-out scenes) and ``affinity.json``: per model with a
        block and per seed, the mean share of the box query's affinity on each kind of cell over the held-out set."""
        layouts = json.loads(Path(info['layout']).read_text())
        first = min(r['seed'] for r in runs)
        shown = [r for r in runs if r['seed'] == first]
        preds = {r['model']: load_predictions(Path(r['work_dir']) / 'preds.pkl') for r in shown}
        cfg_options = _data_options(info['data_root'])  # all the model and the held-out loader need
        rows: Dict[str, Dict[str, dict]] = {}
        shares: Dict[str, Dict[str, List[float]]] = {}
        for r in runs:
            if r['key'] == self.models[0].key:
                continue
            captured = _capture(r, cfg_options, layouts)
            per_scene = [affinity_shares(rec['row'], layouts[name]) for name, rec in captured.items()]
            for k in ('twice', 'once', 'box'):
                shares.setdefault(r['model'], {}).setdefault(k, []).append(float(np.nanmean([s[k] for s in
                                                                                             per_scene])))
            if r['seed'] == first:
                rows[r['model']] = captured
        names = sorted(preds[shown[0]['model']])[:SHOWN_SCENES]
        png = _scenes_figure(out / 'scenes.png', info['data_root'], names, layouts, shown, preds, rows)
        pictures = dict(scenes=str(png))
        if not shares:
            return pictures, ''
        # a uniform row's shares: the cells' areas
        uniform = dict(twice=2 / GRID ** 2, once=1 / GRID ** 2, box=1 / GRID ** 2)
        seeds = sorted({r['seed'] for r in runs})
        n_scenes = len(next(iter(rows.values())))
        (out / 'affinity.json').write_text(json.dumps(dict(seeds=seeds, scenes=n_scenes, uniform=uniform,
                                                           shares=shares), indent=1))
        pictures['affinity'] = str(out / 'affinity.json')

        def cell(values):
            return f'{np.mean(values):.3f}' + (f' ± {np.std(values, ddof=1):.3f}' if len(values) > 1 else '')
        over = (f' (then mean ± std over seeds {", ".join(map(str, seeds))})' if len(seeds) > 1
                else f' (seed {seeds[0]})')
        lines = [textwrap.fill(f'**Where the box looks**: the affinity row of a query at the box\'s centre, its share '
                               f'on the cells of the digit seen twice, of the other digit and of the box itself, mean '
                               f'over the {n_scenes} held-out scenes{over}.', 120), '',
                 '| model | digit seen twice | other digit | box |', '|---|---:|---:|---:|',
                 f'| a uniform row (the cells\' areas) | {uniform["twice"]:.3f} | {uniform["once"]:.3f} | '
                 f'{uniform["box"]:.3f} |']
        lines += [f'| {m} | {cell(v["twice"])} | {cell(v["once"])} | {cell(v["box"])} |' for m, v in shares.items()]
        return pictures, '\n'.join(lines)
