"""Classification data sets read from their standard on-disk layouts, without conversion.

All are mmengine ``BaseDataset``s registered in mmengine's root ``DATASETS`` (so ``ConcatDataset``, ``RepeatDataset`` and
``indices=`` subsets work) and yield ``dict(inputs=uint8 CHW tensor, data_samples=int label)``.

- ``CIFAR10`` / ``CIFAR100``: the "python version" pickle batches (``cifar-10-batches-py/data_batch_1..5, test_batch,
  batches.meta``; ``cifar-100-python/train, test, meta`` with ``fine_labels``). The pickles are read with an unpickler
  that only admits numpy arrays and plain containers, never arbitrary objects.
- ``CUB200``: ``CUB_200_2011/images.txt, image_class_labels.txt, train_test_split.txt, classes.txt, images/...``.
- ``ImageFolder``: ImageNet-style ``root/<split>/<class>/<image>``.

``data_root`` may be the directory holding the data set's own folder (``cifar-10-batches-py``, ``CUB_200_2011``) or that
folder itself. A missing file raises ``FileNotFoundError`` naming its path.
"""
from __future__ import annotations

import io
import os
import os.path as osp
import pickle
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS

from .transforms import ApplyToImage, PackClsInputs, build_transforms, load_image

__all__ = ['CIFAR10', 'CIFAR100', 'CUB200', 'ImageFolder', 'ClsDataset', 'safe_unpickle']

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only what CIFAR's pickles hold: numpy arrays / scalars and builtin containers."""
    _ALLOWED = {
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
        ('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refusing to unpickle {module}.{name}: not a plain CIFAR data batch')


def safe_unpickle(path: str) -> dict:
    """Load a CIFAR pickle batch; keys come back as ``str`` whatever Python wrote the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Data file not found: {path}')
    with open(path, 'rb') as f:
        obj = _RestrictedUnpickler(io.BytesIO(f.read()), encoding='latin1').load()
    if not isinstance(obj, dict):
        raise ValueError(f'{path}: expected a dict, got {type(obj).__name__}')
    return {(k.decode('latin1') if isinstance(k, bytes) else k): v for k, v in obj.items()}


class ClsDataset(BaseDataset):
    """Base of the classification data sets: ``pipeline`` is a list of torchvision transform configs (see
    :mod:`snl_plugins.cls.transforms`), applied to the uint8 image, then packed."""
    CLASSES: Sequence[str] = ()

    def __init__(self, data_root: str = '', split: str = 'train', pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: Optional[bool] = None, indices=None, lazy_init: bool = False, **kwargs):
        if split not in self._splits():
            raise ValueError(f'{type(self).__name__}: split must be one of {self._splits()}, got {split!r}')
        self.split = split
        steps = [ApplyToImage(t) for t in build_transforms(pipeline)] + [PackClsInputs()]
        if test_mode is None:
            test_mode = split != 'train'
        super().__init__(data_root=str(data_root), pipeline=steps, test_mode=test_mode, indices=indices,
                         lazy_init=lazy_init, serialize_data=kwargs.pop('serialize_data', False), **kwargs)

    @classmethod
    def _splits(cls):
        return ('train', 'test')

    @property
    def metainfo(self) -> dict:
        meta = dict(super().metainfo)
        meta.setdefault('classes', tuple(self.CLASSES))
        return meta

    def get_gt_labels(self) -> np.ndarray:
        return np.array([self.get_data_info(i)['gt_label'] for i in range(len(self))])

    def load_image(self, info: dict):
        """The sample's image as a uint8 CHW tensor or array."""
        return load_image(info['img_path'])

    def prepare_data(self, idx):
        info = self.get_data_info(idx)
        info['img'] = self.load_image(info)
        return self.pipeline(info)

    def _find_root(self, folder: str, probe: str) -> str:
        """``data_root/folder`` if it exists, else ``data_root`` itself if it holds ``probe``."""
        candidate = osp.join(self.data_root, folder)
        if osp.isdir(candidate):
            return candidate
        if osp.exists(osp.join(self.data_root, probe)):
            return self.data_root
        raise FileNotFoundError(
            f'{type(self).__name__}: data set folder not found: {candidate} (expected {osp.join(candidate, probe)})')

    @staticmethod
    def _require(path: str) -> str:
        if not osp.exists(path):
            raise FileNotFoundError(f'Data file not found: {path}')
        return path


@DATASETS.register_module()
class CIFAR10(ClsDataset):
    """CIFAR-10, python version (``cifar-10-batches-py``)."""
    base_folder = 'cifar-10-batches-py'
    train_files = tuple(f'data_batch_{i}' for i in range(1, 6))
    test_files = ('test_batch',)
    meta_file = 'batches.meta'
    meta_key = 'label_names'
    label_key = 'labels'

    def load_data_list(self) -> List[dict]:
        root = self._find_root(self.base_folder, self.meta_file)
        files = self.train_files if self.split == 'train' else self.test_files
        paths = [self._require(osp.join(root, f)) for f in files]
        meta = safe_unpickle(self._require(osp.join(root, self.meta_file)))
        self._metainfo = dict(self._metainfo, classes=tuple(meta[self.meta_key]))
        data, labels = [], []
        for p in paths:
            batch = safe_unpickle(p)
            if 'data' not in batch or self.label_key not in batch:
                raise KeyError(f'{p}: expected keys "data" and "{self.label_key}", found {sorted(batch)}')
            data.append(np.asarray(batch['data'], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(int(x) for x in batch[self.label_key])
        self._images = np.concatenate(data)
        if len(labels) != len(self._images):
            raise ValueError(f'{root}: {len(labels)} labels for {len(self._images)} images')
        return [dict(gt_label=lab, array_index=i) for i, lab in enumerate(labels)]

    def load_image(self, info: dict):
        return torch.from_numpy(self._images[info['array_index']].copy())


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100, python version (``cifar-100-python``), fine labels (100 classes)."""
    base_folder = 'cifar-100-python'
    train_files = ('train',)
    test_files = ('test',)
    meta_file = 'meta'
    meta_key = 'fine_label_names'
    label_key = 'fine_labels'


def _read_pairs(path: str) -> dict:
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise ValueError(f'{path}:{n}: expected "<id> <value>", got {line!r}')
            out[int(parts[0])] = parts[1]
    return out


@DATASETS.register_module()
class CUB200(ClsDataset):
    """Caltech-UCSD Birds-200-2011 with its official train/test split (labels 0..199)."""
    base_folder = 'CUB_200_2011'

    def load_data_list(self) -> List[dict]:
        root = self._find_root(self.base_folder, 'images.txt')
        images = _read_pairs(self._require(osp.join(root, 'images.txt')))
        labels = _read_pairs(self._require(osp.join(root, 'image_class_labels.txt')))
        split = _read_pairs(self._require(osp.join(root, 'train_test_split.txt')))
        classes_file = osp.join(root, 'classes.txt')
        if osp.isfile(classes_file):
            names = _read_pairs(classes_file)
            self._metainfo = dict(self._metainfo, classes=tuple(names[k] for k in sorted(names)))
        want = '1' if self.split == 'train' else '0'
        img_dir = osp.join(root, 'images')
        data_list = []
        for img_id in sorted(images):
            if img_id not in split or img_id not in labels:
                raise KeyError(f'{root}: image id {img_id} missing from train_test_split.txt or image_class_labels.txt')
            if split[img_id].strip() == want:
                data_list.append(dict(img_path=osp.join(img_dir, images[img_id]),
                                      gt_label=int(labels[img_id]) - 1))
        return data_list


@DATASETS.register_module()
class ImageFolder(ClsDataset):
    """ImageNet-style class folders: ``data_root/<split>/<class>/<image>`` (``split=''`` reads ``data_root`` itself).

    ``classes`` fixes the class order (default: sorted folder names)."""

    def __init__(self, data_root: str = '', split: str = 'train', classes: Optional[Sequence[str]] = None, **kwargs):
        self._classes = tuple(classes) if classes is not None else None
        super().__init__(data_root=data_root, split=split, **kwargs)

    @classmethod
    def _splits(cls):
        return ('train', 'val', 'test', '')

    def load_data_list(self) -> List[dict]:
        root = osp.join(self.data_root, self.split) if self.split else self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(f'ImageFolder: folder not found: {root}')
        classes = self._classes or tuple(sorted(d.name for d in os.scandir(root) if d.is_dir()))
        if not classes:
            raise FileNotFoundError(f'ImageFolder: no class folders in {root}')
        self._metainfo = dict(self._metainfo, classes=classes)
        data_list = []
        for label, name in enumerate(classes):
            cdir = self._require(osp.join(root, name))
            for dirpath, _, files in sorted(os.walk(cdir, followlinks=True)):
                for fn in sorted(files):
                    if fn.lower().endswith(IMG_EXTENSIONS):
                        data_list.append(dict(img_path=osp.join(dirpath, fn), gt_label=label))
        if not data_list:
            raise FileNotFoundError(f'ImageFolder: no images with extensions {IMG_EXTENSIONS} under {root}')
        return data_list
