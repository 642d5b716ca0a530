"""Classification data sets read from their standard on-disk layouts, without conversion.

All are mmengine ``BaseDataset``s registered in mmengine's root ``DATASETS`` (so ``ConcatDataset``,
``RepeatDataset`` and ``indices=`` subsets work) and yield ``dict(inputs=uint8 CHW tensor, data_samples=int label)``.

- ``CIFAR10`` / ``CIFAR100``: the "python version" pickle batches (``cifar-10-batches-py/data_batch_1..5, test_batch,
  batches.meta``; ``cifar-100-python/train, test, meta`` with ``fine_labels``). The pickles are read with an unpickler
  that only admits numpy arrays and plain containers, never arbitrary objects.
- ``CUB200``: ``CUB_200_2011/images.txt, image_class_labels.txt, train_test_split.txt, classes.txt, images/...``.
- ``ImageFolder``: ImageNet-style ``root/<split>/<class>/<image>``.

``data_root`` may be the directory holding the data set's own folder (``cifar-10-batches-py``, ``CUB_200_2011``) or that
folder itself. A missing file raises ``FileNotFoundError`` naming its path. Labels and layout are checked when the data
set is built (a label outside the classes, a malformed list line, an empty ImageFolder class folder raise
:class:`~snl_plugins.datacheck.DataSetError` naming the file and line or folder); a file that cannot be decoded (a
truncated image or CIFAR batch) raises :class:`~snl_plugins.datacheck.UnreadableFileError` naming it (and its line of
``images.txt`` for CUB) when it is read.
"""
from __future__ import annotations

import io
import os
import os.path as osp
import pickle
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS

from ..datacheck import DataSetError, check_label, label_error, naming_file
from .transforms import ApplyToImage, PackClsInputs, build_transforms, load_image

__all__ = ['CIFAR10', 'CIFAR100', 'CUB200', 'ImageFolder', 'ClsDataset', 'UnsafePickleError', 'safe_unpickle']

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


class UnsafePickleError(DataSetError, pickle.UnpicklingError):
    """A CIFAR batch holds an object that is not plain data: refused, never constructed."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only what CIFAR's pickles hold: numpy arrays / scalars and builtin containers."""
    _ALLOWED = {
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
        ('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
    }

    def __init__(self, file, path: str, **kwargs):
        super().__init__(file, **kwargs)
        self.path = path

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(f'{self.path}: refusing to unpickle {module}.{name}: not a plain CIFAR data batch')


def safe_unpickle(path: str) -> dict:
    """Load a CIFAR pickle batch; keys come back as ``str`` whatever Python wrote the file.

    Raises:
        FileNotFoundError: ``path`` is missing.
        UnsafePickleError: it holds objects other than arrays and containers (also a ``pickle.UnpicklingError``).
        UnreadableFileError: it is truncated or not a pickle (naming ``path``).
        DataSetError: it holds something other than a dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Data file not found: {path}')
    with open(path, 'rb') as f, naming_file(path, 'CIFAR pickle'):
        obj = _RestrictedUnpickler(io.BytesIO(f.read()), path, encoding='latin1').load()
    if not isinstance(obj, dict):
        raise DataSetError(f'{path}: expected a dict, got {type(obj).__name__}')
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
        """The sample's image as a uint8 CHW tensor or array; a file that cannot be decoded is named (and its list
        line, ``info['source']``, where it came from a list)."""
        return load_image(info['img_path'], info.get('source'))

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
        meta_path = self._require(osp.join(root, self.meta_file))
        meta = safe_unpickle(meta_path)
        classes = tuple(meta.get(self.meta_key) or ())
        if not classes:
            raise DataSetError(f'{meta_path}: expected a non-empty list "{self.meta_key}" of class names, found keys '
                               f'{sorted(meta)}')
        self._metainfo = dict(self._metainfo, classes=classes)
        data, labels = [], []
        for p in paths:
            batch = safe_unpickle(p)
            if 'data' not in batch or self.label_key not in batch:
                raise KeyError(f'{p}: expected keys "data" and "{self.label_key}", found {sorted(batch)}')
            images = np.asarray(batch['data'], dtype=np.uint8)
            if images.size % (3 * 32 * 32):
                raise DataSetError(f'{p}: "data" holds {images.size} bytes, not a whole number of 3 x 32 x 32 images')
            images = images.reshape(-1, 3, 32, 32)
            batch_labels = self._check_labels(batch[self.label_key], len(classes), p, meta_path)
            if len(batch_labels) != len(images):
                raise DataSetError(f'{p}: {len(batch_labels)} labels for {len(images)} images')
            data.append(images)
            labels.extend(batch_labels.tolist())
        self._images = np.concatenate(data)
        return [dict(gt_label=lab, array_index=i) for i, lab in enumerate(labels)]

    def _check_labels(self, raw, num_classes: int, path: str, meta_path: str) -> np.ndarray:
        """The labels of one batch as int64, refused (naming the batch and the first bad image) unless every one
        is an integer in ``[0, num_classes)``: an out-of-range label would otherwise surface only in the loss."""
        labels = np.asarray(raw)
        if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
            raise DataSetError(f'{path}: "{self.label_key}" must be a flat list of integer labels, got '
                               f'{labels.dtype} of shape {labels.shape}')
        bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
        if len(bad):
            err = label_error(int(labels[bad[0]]), num_classes, f'{path}, image {bad[0]}')
            raise DataSetError(f'{err} as {meta_path} lists them; {len(bad)} such labels in this batch')
        return labels.astype(np.int64)

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


def _read_pairs(path: str) -> Dict[int, Tuple[str, int]]:
    """``<integer id> <value>`` lines -> ``{id: (value, line number)}``; a malformed line or a repeated id is refused
    naming its line (a repeated id would silently replace the first)."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise DataSetError(f'{path}, line {n}: expected "<integer id> <value>", got {line!r}')
            key = int(parts[0])
            if key in out:
                raise DataSetError(f'{path}, line {n}: id {key} again (first on line {out[key][1]})')
            out[key] = (parts[1], n)
    return out


@DATASETS.register_module()
class CUB200(ClsDataset):
    """Caltech-UCSD Birds-200-2011 with its official train/test split (labels 0..199).

    Labels (1-based in ``image_class_labels.txt``) must be those of ``classes.txt`` (ids 1..N), or of the 200 classes
    where it is absent; split flags must be 0 or 1. Each image remembers its line of ``images.txt``, which an error
    decoding it names.
    """
    base_folder = 'CUB_200_2011'
    num_classes = 200

    def load_data_list(self) -> List[dict]:
        root = self._find_root(self.base_folder, 'images.txt')
        images_file = self._require(osp.join(root, 'images.txt'))
        labels_file = self._require(osp.join(root, 'image_class_labels.txt'))
        split_file = self._require(osp.join(root, 'train_test_split.txt'))
        images, labels, split = _read_pairs(images_file), _read_pairs(labels_file), _read_pairs(split_file)
        num_classes = self.num_classes
        classes_file = osp.join(root, 'classes.txt')
        if osp.isfile(classes_file):
            names = _read_pairs(classes_file)
            if sorted(names) != list(range(1, len(names) + 1)):
                raise DataSetError(f'{classes_file}: class ids must run 1..{len(names)} once each')
            num_classes = len(names)
            self._metainfo = dict(self._metainfo, classes=tuple(names[k][0] for k in sorted(names)))
        want = '1' if self.split == 'train' else '0'
        img_dir = osp.join(root, 'images')
        data_list = []
        for img_id in sorted(images):
            if img_id not in split or img_id not in labels:
                raise KeyError(f'{root}: image id {img_id} missing from train_test_split.txt or image_class_labels.txt')
            flag, flag_line = split[img_id]
            if flag not in ('0', '1'):
                raise DataSetError(f'{split_file}, line {flag_line}: the split flag of image {img_id} must be 1 '
                                   f'(train) or 0 (test), got {flag!r}')
            label, label_line = labels[img_id]
            gt_label = check_label(label, num_classes, f'{labels_file}, line {label_line}', base=1)
            if flag == want:
                rel, img_line = images[img_id]
                data_list.append(dict(img_path=osp.join(img_dir, rel), gt_label=gt_label,
                                      source=f'{images_file}, line {img_line}'))
        return data_list


@DATASETS.register_module()
class ImageFolder(ClsDataset):
    """ImageNet-style class folders: ``data_root/<split>/<class>/<image>`` (``split=''`` reads ``data_root`` itself).

    ``classes`` fixes the class order (default: sorted folder names). Every class folder must hold at least one image
    (searched recursively, extensions ``IMG_EXTENSIONS``): an empty one is refused, naming it."""

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
            found = [dict(img_path=osp.join(dirpath, fn), gt_label=label)
                     for dirpath, _, files in sorted(os.walk(cdir, followlinks=True))
                     for fn in sorted(files) if fn.lower().endswith(IMG_EXTENSIONS)]
            if not found:
                # an empty folder would still take a label (and an output of the classifier) that no image has
                raise DataSetError(f'ImageFolder: class folder {cdir} holds no images with extensions '
                                   f'{IMG_EXTENSIONS}; remove it or add its images')
            data_list.extend(found)
        return data_list
