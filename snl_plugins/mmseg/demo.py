"""``make demo-seg``: DeepLabV3-R18 plain and + SNL on scenes of scikit-learn's handwritten digits, through
``tools/train.py`` and ``tools/test.py``.

Data (real, offline): each 64 x 64 scene is a 4 x 4 grid of 16 x 16 cells; four cells hold, at random, two different
handwritten samples of one digit ``d``, one sample of another digit ``e``, and a *box*: the same blank square in
every scene, whose mask label is ``d``, the digit that appears twice. Nothing inside the box tells its class; only the
rest of the image does (a twist that needs context). Masks label the square of each digit's cell (14 x 14, the
digit's extent; strokes alone would be thinner than DeepLabV3's output stride of 8 can resolve) and of the box with
the class ``1 + digit``; everything else is background (0). Scenes are written in VOC2012's layout
(``VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation}``, palette PNG masks); training scenes use
digits of a fixed stratified split's training part, validation scenes the held-out part.

The demo trains both configs of ``configs/segmentation/demo/`` with ``tools/train.py``, evaluates the final
checkpoints with ``tools/test.py`` (aAcc, mIoU, mAcc, fwIoU, and the accuracy on box pixels, read from the dumped
predictions), prints a table, and writes ``results.md``, ``results.json`` and ``predictions.png`` (image, ground truth,
plain, + SNL for a few validation scenes). :func:`main` is ``tools/demo_seg.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

__all__ = ['MODELS', 'write_digit_scenes', 'run_demo', 'format_table', 'main']

ROOT = Path(__file__).resolve().parents[2]
CFG_DIR = ROOT / 'configs' / 'segmentation' / 'demo'
MODELS = (('DeepLabV3-R18', 'deeplabv3_r18-d8_1xb8-1200it_digits-64x64.py'),
          ('DeepLabV3-R18 + SNL', 'deeplabv3_r18-d8-snl_1xb8-1200it_digits-64x64.py'))
CANVAS, CELL, GRID = 64, 16, 4
BOX_VALUE = 200
METRICS = ('aAcc', 'mIoU', 'mAcc', 'fwIoU')


def _palette() -> np.ndarray:
    pal = np.zeros((256, 3), np.uint8)
    pal[1:11] = [[(37 * i) % 256, (91 * i + 60) % 256, (151 * i + 120) % 256] for i in range(1, 11)]
    pal[255] = 255
    return pal


def _digit_sets(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    idx = np.arange(len(d.target))
    train, test = train_test_split(idx, test_size=500, stratify=d.target, random_state=seed)
    return images, d.target, np.sort(train), np.sort(test)


def _up(img: np.ndarray) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((CELL, CELL), Image.BILINEAR))


def _scene(rng, images, labels, pool):
    """One scene: (grey image, mask, box cell)."""
    img = rng.integers(0, 24, (CANVAS, CANVAS)).astype(np.uint8)
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    d, e = rng.choice(10, size=2, replace=False)
    a, b = rng.choice(pool[labels[pool] == d], size=2, replace=False)
    c = rng.choice(pool[labels[pool] == e])
    cells = rng.choice(GRID * GRID, size=4, replace=False)
    for (kind, sample), cell in zip((('digit', a), ('digit', b), ('digit', c), ('box', None)), cells):
        y, x = (cell // GRID) * CELL, (cell % GRID) * CELL
        if kind == 'digit':
            patch = _up(images[sample])
            img[y:y + CELL, x:x + CELL] = np.maximum(img[y:y + CELL, x:x + CELL], patch)
            mask[y + 1:y + CELL - 1, x + 1:x + CELL - 1] = 1 + labels[sample]
        else:
            img[y + 2:y + CELL - 2, x + 2:x + CELL - 2] = BOX_VALUE
            mask[y + 1:y + CELL - 1, x + 1:x + CELL - 1] = 1 + d
            box = (y + 2, x + 2)
    return img, mask, box


def write_digit_scenes(root, n_train: int = 600, n_val: int = 150, seed: int = 0) -> str:
    """Write the scenes in VOC2012's layout under ``root``; returns the ``data_root`` (``.../VOCdevkit/VOC2012``).
    ``root/boxes.json`` holds each scene's box corner (for the box accuracy)."""
    from PIL import Image
    images, labels, train_pool, val_pool = _digit_sets()
    rng = np.random.default_rng(seed)
    voc = Path(root) / 'VOCdevkit' / 'VOC2012'
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    boxes, splits = {}, {'train': [], 'val': []}
    palette = _palette().reshape(-1).tolist()
    for split, n, pool in (('train', n_train, train_pool), ('val', n_val, val_pool)):
        for i in range(n):
            name = f'digits_{split}_{i:05d}'
            img, mask, box = _scene(rng, images, labels, pool)
            Image.fromarray(np.repeat(img[..., None], 3, axis=2)).save(voc / 'JPEGImages' / f'{name}.jpg', quality=95)
            png = Image.fromarray(mask, mode='P')
            png.putpalette(palette)
            png.save(voc / 'SegmentationClass' / f'{name}.png')
            boxes[name] = [int(box[0]), int(box[1])]
            splits[split].append(name)
    for split, names in splits.items():
        (voc / 'ImageSets' / 'Segmentation' / f'{split}.txt').write_text('\n'.join(names) + '\n')
    (Path(root) / 'boxes.json').write_text(json.dumps(boxes))
    return str(voc)


# --------------------------------------------------------------------------------------------------------- runs
def _env() -> dict:
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')])
    return env


def _run_tool(args: Sequence, log: Path) -> str:
    cmd = [sys.executable] + [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {proc.returncode}); log: {log}\n{proc.stderr[-3000:]}')
    return proc.stdout + proc.stderr


def _data_options(data_root: str, iters: Optional[int]) -> List[str]:
    opts = [f'train_dataloader.dataset.datasets.0.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}', f'test_dataloader.dataset.data_root={data_root}']
    if iters is not None:
        opts += [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
                 f'default_hooks.checkpoint.interval={iters}', f'param_scheduler.0.end={iters}']
    return opts


def _test_metrics(out: str) -> dict:
    lines = [ln for ln in out.splitlines() if 'Iter(test)' in ln and 'mIoU' in ln]
    if not lines:
        raise RuntimeError('tools/test.py printed no metrics')
    return {k: float(v) for k, v in re.findall(r'(aAcc|mIoU|mAcc|fwIoU): ([\d.]+|nan)', lines[-1])}


def _load_preds(path: Path) -> dict:
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    preds = {}
    for s in samples:
        name = Path(s['img_path']).stem
        preds[name] = np.asarray(s['pred_sem_seg']['data']).squeeze(0).astype(np.uint8)
    return preds


def _box_accuracy(preds: dict, data_root: str, boxes: dict) -> float:
    """Share of box pixels predicted as the box's class (the digit seen twice elsewhere), in percent."""
    from PIL import Image
    hit = total = 0
    for name, pred in preds.items():
        y, x = boxes[name]
        gt = np.asarray(Image.open(Path(data_root) / 'SegmentationClass' / f'{name}.png'))
        sl = (slice(y, y + CELL - 4), slice(x, x + CELL - 4))
        hit += int((pred[sl] == gt[sl]).sum())
        total += gt[sl].size
    return round(100.0 * hit / max(total, 1), 2)


def _count_params(config: Path) -> int:
    code = ('import snl_plugins.mmseg, torch; from mmengine.config import Config; '
            'from mmengine.registry import DefaultScope; from mmseg.registry import MODELS; '
            f'cfg = Config.fromfile({str(config)!r}); '
            "DefaultScope.get_instance('demo', scope_name='mmseg'); "
            'print(sum(p.numel() for p in MODELS.build(cfg.model).parameters()))')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=_env(), capture_output=True, text=True)
    return int(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else -1


def format_table(rows: List[dict]) -> str:
    head = '| model | aAcc | mIoU | mAcc | fwIoU | box acc. | train time | params |'
    lines = [head, '|' + ' --- |' * 8]
    for r in rows:
        lines.append(f"| {r['model']} | " + ' | '.join(f'{r[k]:.2f}' for k in METRICS) +
                     f" | {r['box_acc']:.2f} | {r['train_s']:.0f} s | {r['params'] / 1e6:.2f} M |")
    return '\n'.join(lines)


def save_predictions_png(path: Path, data_root: str, preds: List[dict], names: Sequence[str], labels: Sequence[str],
                         scale: int = 3) -> Path:
    """Rows of (image | ground truth | each model's prediction), upscaled, with column titles."""
    from PIL import Image, ImageDraw
    pal = _palette()
    cols = 2 + len(preds)
    w = h = CANVAS * scale
    pad, title = 4, 14
    sheet = Image.new('RGB', (cols * (w + pad) + pad, len(names) * (h + pad) + pad + title), 'white')
    draw = ImageDraw.Draw(sheet)
    for j, text in enumerate(['image', 'ground truth'] + list(labels)):
        draw.text((pad + j * (w + pad), 1), text, fill='black')
    for i, name in enumerate(names):
        img = Image.open(Path(data_root) / 'JPEGImages' / f'{name}.jpg').convert('RGB')
        gt = np.asarray(Image.open(Path(data_root) / 'SegmentationClass' / f'{name}.png'))
        tiles = [img, Image.fromarray(pal[gt])] + [Image.fromarray(pal[p[name]]) for p in preds]
        for j, tile in enumerate(tiles):
            sheet.paste(tile.resize((w, h), Image.NEAREST), (pad + j * (w + pad), title + pad + i * (h + pad)))
    sheet.save(path)
    return path


def run_demo(out='work_dirs/demo_seg', n_train: int = 400, n_val: int = 100, iters: Optional[int] = None,
             models=MODELS, echo=print) -> dict:
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_root = write_digit_scenes(out / 'data', n_train, n_val)
    boxes = json.loads((out / 'data' / 'boxes.json').read_text())
    echo(f'data: {n_train} train / {n_val} val scenes of {CANVAS}x{CANVAS} in {data_root}')
    rows, all_preds = [], []
    for label, cfg_name in models:
        cfg = CFG_DIR / cfg_name
        work = out / Path(cfg_name).stem
        work.mkdir(parents=True, exist_ok=True)
        opts = _data_options(data_root, iters)
        echo(f'[{label}] training ({cfg.relative_to(ROOT)}) ...')
        t0 = time.time()
        _run_tool(['tools/train.py', cfg, '--work-dir', work, '--cfg-options'] + opts, work / 'train_stdout.log')
        train_s = time.time() - t0
        ckpt = (work / 'last_checkpoint').read_text().strip()
        echo(f'[{label}] trained in {train_s:.0f} s; testing {Path(ckpt).name} ...')
        out_test = _run_tool(['tools/test.py', cfg, ckpt, '--work-dir', work / 'test', '--out', work / 'preds.pkl',
                              '--cfg-options'] + opts, work / 'test_stdout.log')
        preds = _load_preds(work / 'preds.pkl')
        row = dict(model=label, config=str(cfg.relative_to(ROOT)), **_test_metrics(out_test),
                   box_acc=_box_accuracy(preds, data_root, boxes), train_s=train_s, params=_count_params(cfg))
        rows.append(row)
        all_preds.append(preds)
    table = format_table(rows)
    names = sorted(all_preds[0])[:6]
    png = save_predictions_png(out / 'predictions.png', data_root, all_preds, names, [r['model'] for r in rows])
    summary = dict(rows=rows, n_train=n_train, n_val=n_val, iters=iters, table=table, predictions=str(png))
    (out / 'results.json').write_text(json.dumps(summary, indent=2))
    (out / 'results.md').write_text(table + '\n')
    echo(table)
    echo(f'predictions: {png}')
    return summary


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='DeepLabV3-R18 plain vs + SNL on digit scenes (VOC layout), through '
                                'tools/train.py and tools/test.py')
    p.add_argument('--out', default='work_dirs/demo_seg')
    p.add_argument('--n-train', type=int, default=400)
    p.add_argument('--n-val', type=int, default=100)
    p.add_argument('--iters', type=int, default=None, help="training iterations (default: the configs' 1200)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    return run_demo(args.out, args.n_train, args.n_val, args.iters)
