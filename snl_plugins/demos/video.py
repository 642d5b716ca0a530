"""``tools/demo.py --task video`` (``make demo-video``): "moving digits" videos in the UCF-101 layout (OpenCV mp4v,
decoded by mmaction2's decord pipeline), a small I3D (ResNet3d-18, narrow, at 32 x 64) plain and + SNL.

The task. Two digits sit far apart on one row (left third and right third of a 64-px-wide frame) and each moves
left or right: ``Approach`` (towards each other), ``Recede`` (away from each other) or ``SameWay`` (both left or both
right). Each digit's own motion is uninformative about two of the three classes; the class is the relation of two
motions 30+ px apart. Digits, start positions, speeds and noise are random per clip. The configs are written next to
the runs, on top of the project's I3D UCF-101 configs (``configs/recognition/i3d/``).
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from .data import digits_float
from .harness import Metric, Model, Top1Task

__all__ = ['CLASSES', 'DECODABLE_WIDTHS', 'MODELS', 'moving_digits_clip', 'write_video', 'write_moving_digits',
           'i3d_config', 'VideoTask']

CLASSES = ('Approach', 'Recede', 'SameWay')
FRAMES, HEIGHT, WIDTH, DIGIT = 8, 32, 64, 12
# widths at which decord 0.6.0 was seen to decode the mp4v files OpenCV writes
DECODABLE_WIDTHS = (32, 64, 80, 96, 112, 128, 160)
I3D_DIR = 'configs/recognition/i3d'
MODELS = (Model('plain', 'I3D-R18 (narrow)', f'{I3D_DIR}/i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb.py'),
          Model('snl', 'I3D-R18 (narrow) + SNL', f'{I3D_DIR}/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py'))


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)


def moving_digits_clip(rng, digits: np.ndarray, label: int) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one clip of class ``label`` (an index of :data:`CLASSES`)."""
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


def write_video(path, frames: np.ndarray, fps: float = 25.0, fourcc: str = 'mp4v', check_width: bool = True) -> str:
    """Encode (T, H, W, 3) uint8 BGR frames with OpenCV; returns the path.

    Args:
        path: the video file to write (its folder is created).
        frames: T x H x W x 3 uint8, BGR.
        fps: frames per second.
        fourcc: OpenCV's codec code.
        check_width: refuse widths that decord 0.6.0 was not seen to decode from OpenCV ``mp4v`` files
            (:data:`DECODABLE_WIDTHS`; 48 fails, see the ecosystem notes).

    Raises:
        ValueError: a width outside :data:`DECODABLE_WIDTHS` with ``check_width``.
        RuntimeError: OpenCV cannot open a writer.
    """
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
    mmaction2 lists; returns the root and the sizes."""
    from ..mmaction.data import write_ucf101_annotations
    root = Path(root)
    rng = np.random.default_rng(seed)
    digits, _ = digits_float()
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


def i3d_config(path: Path, base: Path, data: str, snl: bool, epochs: int, batch_size: int) -> Path:
    """Write the demo's config at ``path``: ``base`` (an I3D UCF-101 config of the project) with a narrow
    ResNet3d-18 at 8 x 32 x 64, 3 classes, the moving digits under ``data``, ``epochs`` and ``batch_size``."""
    host = ("depth=18, base_channels=16, inflate=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1, with_pool2=False, "
            "pretrained=None")
    model = (f"model = dict(backbone=dict(module=dict({host})), cls_head=dict(num_classes=3, in_channels=128))" if snl
             else f"model = dict(backbone=dict({host}), cls_head=dict(num_classes=3, in_channels=128))")
    step = max(1, int(epochs * 0.6))
    what = '+ SNL before the last block of res4' if snl else 'plain'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'''_base_ = ['{base}']
# the moving-digits demo: a narrow ResNet3d-18 at 8 x 32 x 64, {what}
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


class VideoTask(Top1Task):
    """``tools/demo.py --task video``: moving digits, narrow I3D-R18 plain and + SNL."""
    name = 'video'
    title = 'moving digits (UCF-101 layout), I3D-R18 (narrow)'
    models = MODELS
    metrics = (Metric('top1', 'held-out top-1 (%)', 'share of held-out clips classified right; chance is 33%'),)
    options = dict(epochs=6, batch_size=8, groups=(12, 5, 6))
    default_seeds = (0,)
    top1_key, top1_scale = 'acc/top1', 100.0  # mmaction2's, a fraction

    def write_data(self, data_dir: Path, options: dict) -> dict:
        n_train_groups, n_test_groups, per_group = options['groups']
        return write_moving_digits(data_dir / 'ucf101', n_train_groups, n_test_groups, per_group)

    def config(self, model: Model, root: Path, out: Path, info: dict, options: dict) -> Path:
        return i3d_config(out / 'configs' / f'{model.key}.py', root / model.config, info['root'],
                          model.key == 'snl', options['epochs'], options['batch_size'] or 8)

    def cfg_options(self, info: dict, seed: int, options: dict) -> List[str]:
        return [f'randomness.seed={seed}']
