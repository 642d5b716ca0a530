"""``tools/demo.py --task digits``: PreResNet-20 plain and + SNL classifying scikit-learn's handwritten digits.

The digits (scaled to 0-255) are bilinearly upsampled to 16 x 16 and written as ImageFolder class folders of PNGs
(``{train,test}/<digit>/<index>.png``, ``<index>`` the row in ``load_digits()``) with the fixed stratified held-out
split (1,297 / 500), read by our ``ImageFolder`` data set. Both configs of ``configs/demo/`` (PreResNet-20 and
PreResNet-20 + SNL at the paper's position) train with the same schedule. The digits need no long-range context: this
task shows the plug-in trained and tested end to end, not what the block is for (that is the default task, scenes).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np

from .data import SPLIT_SEED, digit_split, digits_uint8, save_png, upsample
from .harness import Metric, Model, Top1Task

__all__ = ['MODELS', 'write_digits', 'DigitsTask']

CFG_DIR = 'configs/demo'
MODELS = (Model('plain', 'PreResNet-20', f'{CFG_DIR}/preresnet20_digits.py'),
          Model('snl', 'PreResNet-20 + SNL', f'{CFG_DIR}/preresnet20-snl_digits.py'))


def write_digits(root, size: int = 16, train_size=None, test_size=None) -> dict:
    """Write the digits as ``root/{train,test}/<digit>/<index>.png`` and ``root/split.json``.

    Args:
        root: output folder.
        size: side of the upsampled images.
        train_size: keep a stratified subset of the 1,297 training images (None: all).
        test_size: keep a stratified subset of the 500 held-out images (None: all).

    Returns:
        The split's summary: sizes, indices, per-class counts, the training pixels' mean and std.
    """
    root = Path(root)
    images, labels = digits_uint8()
    train, test = digit_split(labels, train_size, test_size)
    pixels = []
    for split, part in (('train', train), ('test', test)):
        for i in part:
            img = upsample(images[i], size)
            if split == 'train':
                pixels.append(img)
            save_png(img, root / split / str(labels[i]) / f'{i:04d}.png')
    pixels = np.stack(pixels).astype(np.float64)
    info = dict(task='digits', size=size, split_seed=SPLIT_SEED, n_train=int(len(train)), n_test=int(len(test)),
                train_mean=round(float(pixels.mean()), 2), train_std=round(float(pixels.std()), 2),
                train_per_class=np.bincount(labels[train], minlength=10).tolist(),
                test_per_class=np.bincount(labels[test], minlength=10).tolist(),
                train_index=train.tolist(), test_index=test.tolist())
    (root / 'split.json').write_text(json.dumps(info))
    return info


class DigitsTask(Top1Task):
    """``tools/demo.py --task digits``: the 10-class digits, PreResNet-20 plain and + SNL."""
    name = 'digits'
    title = 'digits classification, PreResNet-20'
    models = MODELS
    metrics = (Metric('top1', 'held-out top-1 (%)', 'share of held-out images classified right'),)
    options = dict(epochs=6, train_size=None, test_size=None, batch_size=None)
    default_seeds = (0, 1)
    top1_key = 'accuracy/top1'  # mmpretrain's, in percent

    def write_data(self, data_dir: Path, options: dict) -> dict:
        info = write_digits(data_dir / 'digits16', train_size=options['train_size'], test_size=options['test_size'])
        summary = {k: v for k, v in info.items() if not k.endswith('_index')}
        return dict(summary, data_root=str(data_dir / 'digits16'))

    def cfg_options(self, info: dict, seed: int, options: dict) -> List[str]:
        epochs = options['epochs']
        opts = [f'randomness.seed={seed}', f'train_cfg.max_epochs={epochs}', f'param_scheduler.T_max={epochs}',
                f'param_scheduler.end={epochs}']
        opts += [f'{loader}.dataset.data_root={info["data_root"]}'
                 for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
        if options['batch_size']:
            opts.append(f'train_dataloader.batch_size={options["batch_size"]}')
        return opts
