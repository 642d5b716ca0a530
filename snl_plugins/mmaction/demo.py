"""``make demo-video``: a "moving digits" action data set from scikit-learn's handwritten digits, written as real video
files in the UCF-101 layout (OpenCV mp4v, decoded by mmaction2's decord pipeline), and a small I3D (ResNet3d-18,
narrow, at 32 x 64) plain and + SNL trained with ``tools/train.py`` and evaluated with ``tools/test.py``.

The task. Two digits sit far apart on one row (left third and right third of a 64-px-wide frame) and each moves
left or right: ``Approach`` (towards each other), ``Recede`` (away from each other) or ``SameWay`` (both left or both
right). Each digit's own motion is uninformative about two of the three classes; the class is the relation of two
motions 30+ px apart. Digits, start positions, speeds and noise are random per clip.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..demo import ROOT, _children_cpu, _run_tool, format_table, plot_curves, summarize
from .data import write_ucf101_annotations

CLASSES = ('Approach', 'Recede', 'SameWay')
FRAMES, HEIGHT, WIDTH, DIGIT = 8, 32, 64, 12
# widths at which decord 0.6.0 was seen to decode the mp4v files OpenCV writes
DECODABLE_WIDTHS = (32, 64, 80, 96, 112, 128, 160)


def _digit_images():
    from sklearn.datasets import load_digits
    d = load_digits()
    return (d.images / 16.0 * 255).astype(np.float64), d.target


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)


def moving_digits_clip(rng, digits: np.ndarray, label: int) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one clip of class ``label``."""
    a, b = (_resize(digits[i], DIGIT) for i in rng.choice(len(digits), 2, replace=False))
    if label == 0:
        va, vb = 1, -1
    elif label == 1:
        va, vb = -1, 1
    else:
        va = vb = int(rng.choice([-1, 1]))
    speed_a, speed_b = rng.integers(1, 3), rng.integers(1, 3)
    y = int(rng.integers(2, HEIGHT - DIGIT - 2))
    xa = int(rng.integers(8, 14))
    xb = int(rng.integers(WIDTH - DIGIT - 14, WIDTH - DIGIT - 8))
    out = np.empty((FRAMES, HEIGHT, WIDTH, 3), np.uint8)
    for t in range(FRAMES):
        img = rng.normal(20, 8, (HEIGHT, WIDTH))
        for d, x0, v, s in ((a, xa, va, speed_a), (b, xb, vb, speed_b)):
            x = int(np.clip(x0 + v * s * t, 0, WIDTH - DIGIT))
            img[y:y + DIGIT, x:x + DIGIT] = np.maximum(img[y:y + DIGIT, x:x + DIGIT], d)
        out[t] = np.clip(img, 0, 255).astype(np.uint8)[..., None].repeat(3, -1)
    return out


def write_video(path, frames: np.ndarray, fps: float = 25.0, fourcc: str = 'mp4v',
                check_width: bool = True) -> str:
    """Encode (T, H, W, 3) uint8 BGR frames with OpenCV; returns the path. ``check_width`` refuses widths that
    decord 0.6.0 was not seen to decode from OpenCV ``mp4v`` files (:data:`DECODABLE_WIDTHS`; 48 fails, see the
    ecosystem notes)."""
    import cv2
    t, h, w, _ = frames.shape
    if check_width and w not in DECODABLE_WIDTHS:
        raise ValueError(f'width {w}: decord 0.6.0 was seen to decode OpenCV mp4v files only at widths '
                         f'{DECODABLE_WIDTHS}')
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV could not open a {fourcc} writer for {path}')
    try:
        for f in frames:
            writer.write(np.ascontiguousarray(f))
    finally:
        writer.release()
    return str(path)


def write_moving_digits(root, n_train_groups: int = 18, n_test_groups: int = 7, clips_per_group: int = 6,
                        seed: int = 0) -> dict:
    """The UCF-101 layout (test groups 1..n_test_groups, train groups after them, as UCF-101 split 1) and its
    mmaction2 lists; returns paths and sizes."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    digits, _ = _digit_images()
    lists = root / 'ucfTrainTestlist'
    lists.mkdir(parents=True, exist_ok=True)
    (lists / 'classInd.txt').write_text(''.join(f'{i} {c}\n' for i, c in enumerate(CLASSES, 1)))
    train, test = [], []
    for label, cls in enumerate(CLASSES):
        for g in range(1, n_test_groups + n_train_groups + 1):
            for c in range(1, clips_per_group + 1):
                rel = f'{cls}/v_{cls}_g{g:02d}_c{c:02d}.avi'
                write_video(root / 'UCF-101' / rel, moving_digits_clip(rng, digits, label))
                (test if g <= n_test_groups else train).append(rel if g <= n_test_groups else f'{rel} {label + 1}')
    (lists / 'trainlist01.txt').write_text('\n'.join(train) + '\n')
    (lists / 'testlist01.txt').write_text('\n'.join(test) + '\n')
    write_ucf101_annotations(str(root), splits=[1], check='open')
    return dict(root=str(root), n_train=len(train), n_test=len(test))


def _config(path: Path, data: str, snl: bool, epochs: int, batch_size: int) -> Path:
    base = ROOT / 'configs/recognition/i3d' / ('i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py' if snl else
                                               'i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb.py')
    host = ("depth=18, base_channels=16, inflate=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1, with_pool2=False, "
            "pretrained=None")
    model = (f"model = dict(backbone=dict(module=dict({host})), cls_head=dict(num_classes=3, in_channels=128))" if snl
             else f"model = dict(backbone=dict({host}), cls_head=dict(num_classes=3, in_channels=128))")
    step = max(1, int(epochs * 0.6))
    path.write_text(f'''_base_ = ['{base}']
# the moving-digits demo: a narrow ResNet3d-18 at 8 x 32 x 64, {'+ SNL before the last block of res4' if snl else 'plain'}
{model}
load_from = None
file_client_args = dict(io_backend='disk')
train_pipeline = [dict(type='DecordInit', **file_client_args),
                  dict(type='SampleFrames', clip_len={FRAMES}, frame_interval=1, num_clips=1),
                  dict(type='DecordDecode'), dict(type='FormatShape', input_format='NCTHW'),
                  dict(type='PackActionInputs')]
test_pipeline = [dict(type='DecordInit', **file_client_args),
                 dict(type='SampleFrames', clip_len={FRAMES}, frame_interval=1, num_clips=1, test_mode=True),
                 dict(type='DecordDecode'), dict(type='FormatShape', input_format='NCTHW'),
                 dict(type='PackActionInputs')]
ann_train = '{data}/ucf101_train_split_1_videos.txt'
ann_val = '{data}/ucf101_val_split_1_videos.txt'
videos = '{data}/UCF-101'
train_dataloader = dict(batch_size={batch_size}, num_workers=0, persistent_workers=False,
                        dataset=dict(ann_file=ann_train, data_prefix=dict(video=videos), pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                      dataset=dict(ann_file=ann_val, data_prefix=dict(video=videos), pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={epochs}, val_begin=1, val_interval=1)
param_scheduler = [dict(type='MultiStepLR', begin=0, end={epochs}, by_epoch=True, milestones=[{step}], gamma=0.1)]
optim_wrapper = dict(optimizer=dict(lr=0.05))
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval={epochs}, max_keep_ckpts=1))
''')
    return path


_VAL = 'acc/top1'


def _curves(work_dir: Path) -> dict:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    rows = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]
    loss, secs, val = {}, {}, {}
    for r in rows:
        if _VAL in r:
            val[int(r['step'])] = 100.0 * float(r[_VAL])
        elif 'loss' in r and 'epoch' in r:
            loss.setdefault(int(r['epoch']), []).append(float(r['loss']))
            secs.setdefault(int(r['epoch']), []).append(float(r.get('time', 0.0)))
    epochs = sorted(loss)
    return dict(epoch=epochs, train_loss=[statistics.fmean(loss[e]) for e in epochs],
                epoch_time=[sum(secs[e]) for e in epochs], val_epoch=sorted(val), val_top1=[val[e] for e in sorted(val)])


def _count_params(config: Path) -> int:
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    import snl_plugins  # noqa: F401
    register_all_modules(init_default_scope=True)
    return int(sum(p.numel() for p in MODELS.build(Config.fromfile(str(config)).model).parameters()))


def run_demo(out='work_dirs/demo_video', seeds: Sequence[int] = (0,), epochs: int = 6, batch_size: int = 8,
             groups: Optional[Sequence[int]] = None) -> dict:
    import re
    out = Path(out).resolve()
    t0 = time.perf_counter()
    n_train_groups, n_test_groups, per_group = groups or (12, 5, 6)
    info = write_moving_digits(out / 'data' / 'ucf101', n_train_groups, n_test_groups, per_group)
    print(f'moving digits: {info["n_train"]} training / {info["n_test"]} held-out clips of {FRAMES} x {HEIGHT} x '
          f'{WIDTH} in {info["root"]} ({time.perf_counter() - t0:.0f} s)', flush=True)
    runs: List[dict] = []
    params = {}
    for label, snl in (('I3D-R18 (narrow)', False), ('I3D-R18 (narrow) + SNL', True)):
        cfg = _config(out / f'{"snl" if snl else "plain"}.py', info['root'], snl, epochs, batch_size)
        params[label] = _count_params(cfg)
        for seed in seeds:
            work = out / f'{"snl" if snl else "plain"}_seed{seed}'
            t1, cpu0 = time.perf_counter(), _children_cpu()

            def echo(line, label=label, seed=seed):
                m = re.search(r'Epoch\(val\)\s*\[\s*(\d+)\].*?acc/top1: ([\d.]+)', line)
                return f'  [{label}, seed {seed}] epoch {m.group(1)}/{epochs}: held-out top-1 ' \
                       f'{100 * float(m.group(2)):.1f}' if m else None
            _run_tool(['tools/train.py', cfg, '--work-dir', work, '--cfg-options', f'randomness.seed={seed}'],
                      work / 'train_stdout.log', echo)
            wall, cpu = time.perf_counter() - t1, _children_cpu() - cpu0
            test = _run_tool(['tools/test.py', cfg, work / f'epoch_{epochs}.pth', '--work-dir', work / 'test'],
                             work / 'test_stdout.log')
            m = re.search(r'Epoch\(test\).*?acc/top1: ([\d.]+)', test)
            curves = _curves(work)
            runs.append(dict(model=label, seed=seed, top1=100 * float(m.group(1)), curves=curves,
                             sec_per_epoch=statistics.fmean(curves['epoch_time']), train_wall_s=wall,
                             train_cpu_s=cpu))
    rows = summarize(runs, params)
    table = format_table(rows, n_test=info['n_test']).replace('images (one image', 'clips (one clip')
    png = plot_curves(runs, out / 'learning_curves.png', title=f'moving digits, {epochs} epochs')
    print('\n' + table + f'\n\nlearning curves: {png}\ntotal: {time.perf_counter() - t0:.0f} s', flush=True)
    (out / 'results.json').write_text(json.dumps(dict(rows=rows, runs=[{k: v for k, v in r.items()} for r in runs]),
                                                 indent=1))
    return dict(rows=rows, table=table, png=str(png))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='work_dirs/demo_video')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--epochs', type=int, default=6)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--groups', type=int, nargs=3, metavar=('TRAIN', 'TEST', 'PER_GROUP'),
                   help='train groups, test groups and clips per group and class (default 12 5 6)')
    a = p.parse_args(argv)
    return run_demo(a.out, a.seeds, a.epochs, a.batch_size, a.groups)
