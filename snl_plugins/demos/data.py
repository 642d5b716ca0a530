"""What every demo's data starts from: scikit-learn's handwritten digits (1,797 8 x 8 grey images, 10 classes,
shipped inside scikit-learn, no download) and one fixed stratified held-out split of them."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

__all__ = ['SPLIT_SEED', 'TEST_SIZE', 'digits_float', 'digits_uint8', 'digit_split', 'upsample', 'save_png']

SPLIT_SEED = 0
TEST_SIZE = 500


@lru_cache(maxsize=1)
def _load() -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.images, d.target.astype(np.int64)


def digits_float() -> Tuple[np.ndarray, np.ndarray]:
    """(images N x 8 x 8 as float64 in 0..255, labels N)."""
    images, labels = _load()
    return images / 16.0 * 255, labels


def digits_uint8() -> Tuple[np.ndarray, np.ndarray]:
    """(images N x 8 x 8 as uint8, 0..16 scaled to 0..255 and rounded, labels N)."""
    images, labels = _load()
    return np.clip(np.round(images * (255.0 / 16.0)), 0, 255).astype(np.uint8), labels


def digit_split(labels: np.ndarray, train_size: Optional[int] = None,
                test_size: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The fixed stratified split (``train_test_split(test_size=500, stratify=labels, random_state=0)``): sorted
    1,297 / 500 indices into ``load_digits()``; ``train_size`` / ``test_size`` keep a stratified subset of each part."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=TEST_SIZE, stratify=labels, random_state=SPLIT_SEED)

    def shrink(part, n):
        if n is None or n >= len(part):
            return np.sort(part)
        keep, _ = train_test_split(part, train_size=n, stratify=labels[part], random_state=SPLIT_SEED)
        return np.sort(keep)
    return shrink(train, train_size), shrink(test, test_size)


def upsample(img: np.ndarray, size: int) -> np.ndarray:
    """A uint8 grey image bilinearly resized to ``size`` x ``size`` (PIL)."""
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def save_png(img: np.ndarray, path: Path) -> None:
    """Save a uint8 array as a PNG, creating its folder."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
