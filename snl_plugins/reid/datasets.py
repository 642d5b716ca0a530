"""Video re-ID data sets read from their published layouts, without conversion.

All are mmengine ``BaseDataset``s registered in mmengine's root ``DATASETS``; one item is one tracklet.

- ``split='train'``: one clip of ``seq_len`` frames per item (``sampling='random'``: consecutive frames from a random
  start, as in Gao & Nevatia's code; ``'evenly'``: spread over the tracklet), returned as
  ``dict(inputs=uint8 T x C x H x W, data_samples=dict(gt_label=relabelled identity, camid=...))``.
- ``split='test'`` (query and gallery together, for one evaluator), ``'query'`` or ``'gallery'``: every clip of the
  tracklet (``sampling='dense'``: consecutive clips of ``seq_len`` covering all frames, the last one padded by repeating
  its own frames, as in the original test; ``'evenly'`` / ``'random'``: one clip; ``max_clips`` keeps at most that many
  dense clips, evenly spread), returned as ``dict(inputs=uint8 N x T x C x H x W, data_samples=dict(pid, camid, query,
  gallery, index))``; :class:`~snl_plugins.reid.VideoReIDMetric` averages the N clip features of a tracklet.

Layouts (``data_root`` is the folder shown, or the one holding it):

- ``Mars``: ``bbox_train/<pid>/<name>.jpg``, ``bbox_test/<pid>/<name>.jpg``, ``info/train_name.txt``,
  ``info/test_name.txt``, ``info/tracks_train_info.mat`` (``track_train_info``), ``info/tracks_test_info.mat``
  (``track_test_info``): rows of 1-based start index, end index (into the name list), pid, camera (1-based);
  ``info/query_IDX.mat`` (``query_IDX``): 1-based rows of the test tracks that are queries. The gallery is the other
  test tracks (torchreid, Gao & Nevatia), or every test track with ``query_in_gallery=True`` (Mars's official evaluation).
  Identities ``-1`` (folder ``00-1``, junk) and ``0`` (``0000``, distractors) stay in the gallery.
- ``iLIDSVID``: ``i-LIDS-VID/sequences/cam1/personNNN/*.png`` and ``.../cam2/...``; 10 splits of the persons into
  train / test halves. Query: cam1, gallery: cam2.
- ``PRID2011``: ``prid_2011/multi_shot/cam_a/person_NNNN/*.png`` and ``.../cam_b/...``; the persons in both cameras
  with at least ``min_frames`` (21) frames in each (178 of the release), 10 splits into halves. Query: cam_a, gallery:
  cam_b.

Person folders are read strictly: the identity is the number of a folder named exactly as the release names them
(``person`` and 3 digits, ``person_`` and 4 digits); any other folder in a camera folder (``person001b``, ``alice``)
is refused with a :class:`~snl_plugins.datacheck.DataSetError` naming it, since an identity made up from whatever
digits a name holds merges persons and makes every tracklet a match. A frame that cannot be decoded raises
:class:`~snl_plugins.datacheck.UnreadableFileError` naming it (for Mars also its line of the name list).

Splits (iLIDS-VID, PRID2011) are reproducible: the first use writes them to a JSON file beside the data (torchreid's
format, a list of ``{"train": [person dirs], "test": [person dirs]}``; iLIDS-VID's from the official
``train-test people splits/train_test_splits_ilidsvid.mat`` when present, as torchreid does, else from a seeded
permutation of the sorted person list) and every later use reads that file back. A missing or malformed info / split
file raises an error naming the file and what was expected.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import random
import re
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS

from ..datacheck import DataSetError
from ..engine.images import load_image
from .transforms import build_clip_transforms

__all__ = ['VideoReIDDataset', 'Mars', 'iLIDSVID', 'PRID2011', 'sample_clips', 'SAMPLINGS']

SAMPLINGS = ('random', 'evenly', 'dense')
FRAME_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def _pad_cycle(idx: List[int], seq_len: int) -> List[int]:
    """Pad a too-short run of frame indices by repeating its own frames in order (Gao & Nevatia's padding)."""
    out = list(idx)
    i = 0
    while len(out) < seq_len:
        out.append(idx[i % len(idx)])
        i += 1
    return out


def sample_clips(num_frames: int, seq_len: int, sampling: str, max_clips: Optional[int] = None,
                 rng: Optional[random.Random] = None) -> np.ndarray:
    """Frame indices (N x seq_len) of the clips taken from a tracklet of ``num_frames`` frames."""
    if num_frames < 1:
        raise ValueError('a tracklet needs at least one frame')
    if sampling not in SAMPLINGS:
        raise ValueError(f'sampling must be one of {SAMPLINGS}, got {sampling!r}')
    rng = rng or random
    if sampling == 'random':
        start = rng.randint(0, max(0, num_frames - seq_len))
        return np.array([_pad_cycle(list(range(start, min(start + seq_len, num_frames))), seq_len)])
    if sampling == 'evenly':
        if num_frames >= seq_len:
            return np.linspace(0, num_frames - 1, seq_len).round().astype(np.int64)[None]
        return np.array([_pad_cycle(list(range(num_frames)), seq_len)])
    clips = [list(range(s, min(s + seq_len, num_frames))) for s in range(0, num_frames, seq_len)]
    clips[-1] = _pad_cycle(clips[-1], seq_len)
    clips = np.array(clips)
    if max_clips is not None and len(clips) > max_clips:
        clips = clips[np.linspace(0, len(clips) - 1, max_clips).round().astype(np.int64)]
    return clips


def _list_frames(folder: str) -> List[str]:
    return sorted(osp.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(FRAME_EXTENSIONS))


class VideoReIDDataset(BaseDataset):
    """Base of the video re-ID data sets. Subclasses implement ``load_tracklets(split)`` returning dicts with
    ``img_paths``, ``pid``, ``camid``, ``query``, ``gallery``.

    Args:
        data_root: see the subclass.
        split: 'train', 'test' (query + gallery), 'query' or 'gallery'.
        seq_len: frames per clip (T).
        sampling: 'random' / 'evenly' / 'dense' (default: 'random' for train, 'dense' otherwise).
        max_clips: at most this many dense clips per tracklet (evenly spread); ``None`` keeps all.
        min_frames: drop tracklets with fewer frames (torchreid's ``min_seq_len``).
        pipeline: clip transforms (see :mod:`snl_plugins.reid.transforms`), applied to F x C x H x W uint8 frames.
    """
    SPLITS = ('train', 'test', 'query', 'gallery')

    def __init__(self, data_root: str = '', split: str = 'train', seq_len: int = 4, sampling: Optional[str] = None,
                 max_clips: Optional[int] = None, min_frames: int = 0,
                 pipeline: Sequence[Union[dict, Callable]] = (), test_mode: Optional[bool] = None, **kwargs):
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of {self.SPLITS}, got {split!r}')
        if int(seq_len) < 1:
            raise ValueError(f'seq_len must be >= 1, got {seq_len}')
        sampling = sampling or ('random' if split == 'train' else 'dense')
        if sampling not in SAMPLINGS:
            raise ValueError(f'sampling must be one of {SAMPLINGS}, got {sampling!r}')
        if split == 'train' and sampling == 'dense':
            raise ValueError("split='train' takes one clip per tracklet: sampling must be 'random' or 'evenly'")
        self.split, self.seq_len, self.sampling = split, int(seq_len), sampling
        self.max_clips, self.min_frames = max_clips, int(min_frames)
        self.transforms = build_clip_transforms(pipeline)
        super().__init__(data_root=str(data_root), pipeline=[], test_mode=split != 'train' if test_mode is None
                         else test_mode, **kwargs)

    # --- subclass interface -------------------------------------------------------------------------------------
    def load_tracklets(self, split: str) -> List[dict]:
        raise NotImplementedError

    # --- mmengine -----------------------------------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        tracks = self.load_tracklets('train' if self.split == 'train' else 'test')
        tracks = [t for t in tracks if len(t['img_paths']) >= max(self.min_frames, 1)]
        if self.split == 'query':
            tracks = [t for t in tracks if t['query']]
        elif self.split == 'gallery':
            tracks = [t for t in tracks if t['gallery']]
        if not tracks:
            raise ValueError(f'{type(self).__name__}: no {self.split} tracklets under {self.data_root} '
                             f'(min_frames={self.min_frames})')
        if self.split == 'train':
            pids = sorted({t['pid'] for t in tracks})
            label = {p: i for i, p in enumerate(pids)}
            for t in tracks:
                t['gt_label'] = label[t['pid']]
            self._metainfo = dict(self._metainfo, num_classes=len(pids))
        else:
            for t in tracks:
                t['gt_label'] = t['pid']
        return tracks

    @property
    def num_classes(self) -> int:
        return int(self.metainfo.get('num_classes', len(set(self.get_pids()))))

    def get_pids(self) -> np.ndarray:
        """The (relabelled, for train) identity of every item, in item order (what the identity sampler reads)."""
        if not hasattr(self, '_pids'):
            self._pids = np.array([self.get_data_info(i)['gt_label'] for i in range(len(self))])
        return self._pids

    def load_frames(self, paths: Sequence[str], sources: Optional[Sequence[Optional[str]]] = None) -> torch.Tensor:
        """Frames as one F x C x H x W uint8 tensor; ``sources[i]`` says where ``paths[i]`` was listed, for the
        error naming a frame that cannot be decoded."""
        sources = sources if sources is not None else [None] * len(paths)
        frames = [load_image(p, src) for p, src in zip(paths, sources)]
        shape = frames[0].shape
        for p, f in zip(paths, frames):
            if f.shape != shape:
                raise ValueError(f'frame {p} is {tuple(f.shape[1:])} (H x W), but {paths[0]} of the same tracklet is '
                                 f'{tuple(shape[1:])}: frames of a tracklet must have one size')
        return torch.stack(frames)

    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        paths = info['img_paths']
        clips = sample_clips(len(paths), self.seq_len, self.sampling, self.max_clips)
        needed, inverse = np.unique(clips, return_inverse=True)
        first_line = info.get('first_line')  # Mars: line of the name list holding the tracklet's first frame
        sources = None if first_line is None else [f'{info["list_file"]}, line {first_line + i}' for i in needed]
        frames = self.load_frames([paths[i] for i in needed], sources)
        for t in self.transforms:
            frames = t(frames)
        clips = frames[torch.from_numpy(inverse.reshape(clips.shape))].contiguous()  # N x T x C x H x W
        if self.split == 'train':
            return dict(inputs=clips[0], data_samples=dict(gt_label=int(info['gt_label']), camid=int(info['camid'])))
        return dict(inputs=clips, data_samples=dict(pid=int(info['pid']), camid=int(info['camid']),
                                                    query=bool(info['query']), gallery=bool(info['gallery']),
                                                    index=int(idx)))

    # --- helpers ------------------------------------------------------------------------------------------------
    def _find_root(self, folder: str, probe: str) -> str:
        """``data_root/folder`` if it holds ``probe``, else ``data_root`` itself if it does."""
        candidate = osp.join(self.data_root, folder)
        if osp.exists(osp.join(candidate, probe)):
            return candidate
        if osp.exists(osp.join(self.data_root, probe)):
            return self.data_root
        raise FileNotFoundError(f'{type(self).__name__}: data set not found: expected {osp.join(candidate, probe)} '
                                f'(or {osp.join(self.data_root, probe)})')


# --------------------------------------------------------------------------------------------------------------------
# Mars
# --------------------------------------------------------------------------------------------------------------------
def _load_mat(path: str, key: str, what: str) -> np.ndarray:
    from scipy.io import loadmat
    if not osp.isfile(path):
        raise FileNotFoundError(f'Mars info file not found: {path} (expected {what})')
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several types for a damaged file
        raise ValueError(f'{path}: cannot read it as a MATLAB .mat file ({e}); expected {what}') from e
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise ValueError(f'{path}: no variable "{key}" (found {found}); expected {what}')
    return np.asarray(mat[key])


def _read_names(path: str) -> List[str]:
    """The image names of a Mars name list, one a line; name ``i`` (1-based, as the track files index them) is on
    line ``i``, so a blank line before the last name is refused (it would shift every index after it)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Mars info file not found: {path} (expected one image name per line, '
                                'like 0001C1T0001F001.jpg)')
    with open(path) as f:
        names = [line.strip() for line in f]
    while names and not names[-1]:
        names.pop()
    pattern = re.compile(r'^(\d{4}|00-1)C(\d)T\d{4}F\d{3}\.\w+$')
    for n, name in enumerate(names, 1):
        if not pattern.match(name):
            raise DataSetError(f'{path}:{n}: expected an image name like 0001C1T0001F001.jpg, got {name!r}')
    return names


@DATASETS.register_module()
class Mars(VideoReIDDataset):
    """Mars (Zheng et al. 2016) in its release layout; see the module docstring.

    Args:
        query_in_gallery: keep the queries in the gallery (Mars's official MATLAB evaluation; pair with
            ``VideoReIDMetric(protocol='mars_official')``). Default False: gallery = the other test tracks (torchreid,
            Gao & Nevatia).
    """

    def __init__(self, data_root: str = '', split: str = 'train', query_in_gallery: bool = False, **kwargs):
        self.query_in_gallery = bool(query_in_gallery)
        super().__init__(data_root=data_root, split=split, **kwargs)

    def load_tracklets(self, split: str) -> List[dict]:
        root = self._find_root('mars', osp.join('info', 'train_name.txt'))
        info = osp.join(root, 'info')
        home = 'bbox_train' if split == 'train' else 'bbox_test'
        names_file = osp.join(info, f'{split}_name.txt')
        names = _read_names(names_file)
        key = f'track_{split}_info'
        mat_file = osp.join(info, f'tracks_{split}_info.mat')
        what = (f'a variable "{key}": an N x 4 array of rows (start index, end index, pid, camera), indices 1-based '
                f'into {names_file}, cameras 1-based')
        tracks = _load_mat(mat_file, key, what)
        if tracks.ndim != 2 or tracks.shape[1] != 4 or len(tracks) == 0:
            raise ValueError(f'{mat_file}: "{key}" has shape {tracks.shape}; expected {what}')
        query = np.zeros(len(tracks), bool)
        if split == 'test':
            q_file = osp.join(info, 'query_IDX.mat')
            q_what = f'a variable "query_IDX": 1-based row numbers of {mat_file} that are queries'
            q_idx = _load_mat(q_file, 'query_IDX', q_what).reshape(-1).astype(np.int64)
            if len(q_idx) == 0 or q_idx.min() < 1 or q_idx.max() > len(tracks):
                raise ValueError(f'{q_file}: query_IDX must hold row numbers between 1 and {len(tracks)} '
                                 f'(the tracks of {mat_file}); got {len(q_idx)} values'
                                 + (f' from {q_idx.min()} to {q_idx.max()}' if len(q_idx) else ''))
            query[q_idx - 1] = True
        out = []
        for row, (start, end, pid, cam) in enumerate(tracks.astype(np.int64)):
            if not 1 <= start <= end <= len(names):
                raise ValueError(f'{mat_file}: row {row + 1} has start {start}, end {end}; expected '
                                 f'1 <= start <= end <= {len(names)} (the lines of {names_file})')
            img_names = names[start - 1:end]
            folders = {n[:4] for n in img_names}
            cams = {n[5] for n in img_names}
            expected = '00-1' if pid == -1 else f'{pid:04d}'
            if folders != {expected} or cams != {str(cam)}:
                raise ValueError(f'{mat_file}: row {row + 1} (pid {pid}, camera {cam}) covers lines {start}-{end} of '
                                 f'{names_file}, whose names give identities {sorted(folders)} and cameras '
                                 f'{sorted(cams)}; expected one identity {expected} and camera {cam}')
            paths = [osp.join(root, home, n[:4], n) for n in img_names]
            out.append(dict(img_paths=paths, pid=int(pid), camid=int(cam) - 1, query=bool(query[row]),
                            gallery=bool(self.query_in_gallery or not query[row]), list_file=names_file,
                            first_line=int(start)))
        return out


# --------------------------------------------------------------------------------------------------------------------
# Two-camera data sets with person splits
# --------------------------------------------------------------------------------------------------------------------
class _TwoCameraDataset(VideoReIDDataset):
    """One tracklet per person and camera; persons split into train / test halves, 10 splits."""
    folder = ''  # the data set's own folder under data_root
    cam_dirs = ('', '')  # relative to the data set's folder; cams[0] = query camera
    person_dir = re.compile('')  # a person folder's full name; group 1 is the identity
    person_example = ''  # for messages
    split_name = ''  # default split file name
    default_min_frames = 0

    def __init__(self, data_root: str = '', split: str = 'train', split_id: int = 0, num_splits: int = 10,
                 split_file: Optional[str] = None, split_seed: int = 0, min_frames: Optional[int] = None, **kwargs):
        self.split_id, self.num_splits, self.split_seed = int(split_id), int(num_splits), int(split_seed)
        if not 0 <= self.split_id < self.num_splits:
            raise ValueError(f'split_id must be in [0, {self.num_splits}), got {split_id}')
        self._split_file = split_file
        super().__init__(data_root=data_root, split=split,
                         min_frames=self.default_min_frames if min_frames is None else min_frames, **kwargs)

    @property
    def split_file(self) -> str:
        f = self._split_file or self.split_name
        return f if osp.isabs(f) else osp.join(self.data_root, f)

    def _dataset_root(self) -> str:
        return self._find_root(self.folder, self.cam_dirs[0])

    def _persons(self, root: str) -> Dict[str, List[List[str]]]:
        """{person dir: [frames in cam 0, frames in cam 1]} for the persons present in both cameras; every folder
        in a camera folder must be a person folder named as the release names them (files there are ignored)."""
        found = []
        for cam in self.cam_dirs:
            d = osp.join(root, cam)
            if not osp.isdir(d):
                raise FileNotFoundError(f'{type(self).__name__}: camera folder not found: {d}')
            names = {e.name for e in os.scandir(d) if e.is_dir()}
            for name in sorted(names):
                if not self.person_dir.fullmatch(name):
                    raise DataSetError(f'{type(self).__name__}: folder {osp.join(d, name)} is not a person folder '
                                       f'of the published layout (named like {self.person_example}, pattern '
                                       f'{self.person_dir.pattern}); move it out of {d}')
            found.append(names)
        both = sorted(found[0] & found[1])
        return {p: [_list_frames(osp.join(root, cam, p)) for cam in self.cam_dirs] for p in both}

    def _eligible(self, persons: Dict[str, List[List[str]]]) -> List[str]:
        return [p for p, (a, b) in persons.items() if min(len(a), len(b)) >= max(self.min_frames, 1)]

    def make_splits(self, root: str, eligible: List[str]) -> List[dict]:
        rng = np.random.default_rng(self.split_seed)
        n_train = len(eligible) // 2
        splits = []
        for _ in range(self.num_splits):
            perm = rng.permutation(len(eligible))
            splits.append(dict(train=sorted(eligible[i] for i in perm[:n_train]),
                               test=sorted(eligible[i] for i in perm[n_train:])))
        return splits

    def _read_splits(self, path: str, persons: Dict[str, list]) -> List[dict]:
        expected = ('a JSON list of splits, each {"train": [person folder names], "test": [person folder names]} '
                    f'with disjoint lists of persons present in both {self.cam_dirs[0]} and {self.cam_dirs[1]}')
        try:
            with open(path) as f:
                splits = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f'split file {path}: cannot read it ({e}); expected {expected}') from e
        if not isinstance(splits, list) or len(splits) <= self.split_id:
            n = len(splits) if isinstance(splits, list) else type(splits).__name__
            raise ValueError(f'split file {path}: holds {n} splits, split_id={self.split_id} asked; '
                             f'expected {expected}')
        split = splits[self.split_id]
        ok = (isinstance(split, dict) and all(isinstance(split.get(k), list) and split[k] for k in ('train', 'test'))
              and all(isinstance(p, str) for k in ('train', 'test') for p in split[k]))
        if not ok:
            raise ValueError(f'split file {path}: split {self.split_id} is {str(split)[:200]}; expected {expected}')
        unknown = sorted(p for k in ('train', 'test') for p in split[k] if p not in persons)
        if unknown:
            raise ValueError(f'split file {path}: split {self.split_id} names persons not found in both cameras: '
                             f'{unknown[:5]}{" ..." if len(unknown) > 5 else ""}; expected {expected}')
        if set(split['train']) & set(split['test']):
            raise ValueError(f'split file {path}: split {self.split_id} has persons in both train and test; '
                             f'expected {expected}')
        return splits

    def _write_splits(self, path: str, splits: List[dict]) -> None:
        tmp = f'{path}.{os.getpid()}.tmp'
        try:
            with open(tmp, 'w') as f:
                json.dump(splits, f, indent=1)
            os.replace(tmp, path)  # atomic: ranks starting together write the same content
        except OSError as e:
            raise OSError(f'{type(self).__name__}: cannot write the split file {path} ({e}); pass '
                          'split_file=<a writable path> (it is created there the first time)') from e

    def _load_splits(self):
        """``(data set folder, persons, splits)``: the split file read back (split ``split_id`` checked), or made and
        written first when it does not exist."""
        root = self._dataset_root()
        persons = self._persons(root)
        path = self.split_file
        if osp.exists(path):
            return root, persons, self._read_splits(path, persons)
        eligible = self._eligible(persons)
        if len(eligible) < 2:
            raise ValueError(f'{type(self).__name__}: {len(eligible)} persons under {root} have at least '
                             f'{max(self.min_frames, 1)} frames in both cameras; at least 2 are needed')
        splits = self.make_splits(root, eligible)
        self._write_splits(path, splits)
        return root, persons, splits

    def prepare_splits(self) -> List[dict]:
        """The person splits, as in the split file (:attr:`split_file`), which is written first if it does not exist;
        split ``split_id`` is checked against the persons on disk. Works on a data set built with ``lazy_init=True``,
        so the splits of a run can be made (and checked) before any process trains on them.

        Returns:
            The list of ``{"train": [person folders], "test": [person folders]}`` of the file.
        """
        return self._load_splits()[2]

    def load_tracklets(self, split: str) -> List[dict]:
        root, persons, splits = self._load_splits()
        chosen = splits[self.split_id]['train' if split == 'train' else 'test']
        out = []
        for person in chosen:
            pid = int(self.person_dir.fullmatch(person).group(1))  # every name in `persons` matched in _persons
            for cam, frames in enumerate(persons[person]):
                if not frames:
                    raise FileNotFoundError(f'{type(self).__name__}: no frames ({", ".join(FRAME_EXTENSIONS)}) in '
                                            f'{osp.join(root, self.cam_dirs[cam], person)}')
                out.append(dict(img_paths=frames, pid=pid, camid=cam, query=cam == 0, gallery=cam == 1))
        return out


@DATASETS.register_module(name='iLIDSVID')
class iLIDSVID(_TwoCameraDataset):  # noqa: N801 (the data set's name)
    """iLIDS-VID (Wang et al. 2014): ``i-LIDS-VID/sequences/cam1|cam2/personNNN/*.png``, 300 persons, 150 / 150.

    Split file: ``<data_root>/splits_ilidsvid.json``; made the first time from ``<data_root>/train-test people
    splits/train_test_splits_ilidsvid.mat`` (``ls_set``, 10 x 300 person numbers into the sorted cam1 folders; the
    first half test, the second train, as torchreid reads it) when present, else from a permutation seeded by
    ``split_seed``.
    """
    folder = 'i-LIDS-VID'
    cam_dirs = (osp.join('sequences', 'cam1'), osp.join('sequences', 'cam2'))
    person_dir = re.compile(r'person(\d{3})')
    person_example = 'person001'
    split_name = 'splits_ilidsvid.json'
    official_mat = osp.join('train-test people splits', 'train_test_splits_ilidsvid.mat')

    def make_splits(self, root: str, eligible: List[str]) -> List[dict]:
        mat = osp.join(self.data_root, self.official_mat)
        if not osp.isfile(mat):
            return super().make_splits(root, eligible)
        cam1 = sorted(e.name for e in os.scandir(osp.join(root, self.cam_dirs[0])) if e.is_dir())
        what = (f'a variable "ls_set": {self.num_splits} rows of person numbers (1-based into the {len(cam1)} sorted '
                f'folders of {osp.join(root, self.cam_dirs[0])}), the first half test, the second train')
        ls_set = _load_mat(mat, 'ls_set', what)
        if ls_set.ndim != 2 or ls_set.shape[0] < self.num_splits or ls_set.min() < 1 or ls_set.max() > len(cam1):
            raise ValueError(f'{mat}: ls_set has shape {ls_set.shape}; expected {what}')
        half = ls_set.shape[1] // 2
        splits = []
        for row in ls_set[:self.num_splits].astype(np.int64):
            splits.append(dict(train=sorted(cam1[i - 1] for i in row[half:]),
                               test=sorted(cam1[i - 1] for i in row[:half])))
        return splits


@DATASETS.register_module()
class PRID2011(_TwoCameraDataset):
    """PRID2011 (Hirzer et al. 2011), multi-shot: ``prid_2011/multi_shot/cam_a|cam_b/person_NNNN/*.png``; the persons
    in both cameras with at least ``min_frames`` (default 21) frames in each, split in halves (89 / 89).

    Split file: ``<data_root>/splits_prid2011.json`` (made the first time from a permutation seeded by ``split_seed``;
    torchreid's ``splits_prid2011.json`` can be put there instead).
    """
    folder = 'prid_2011'
    cam_dirs = (osp.join('multi_shot', 'cam_a'), osp.join('multi_shot', 'cam_b'))
    person_dir = re.compile(r'person_(\d{4})')
    person_example = 'person_0001'
    split_name = 'splits_prid2011.json'
    default_min_frames = 21
