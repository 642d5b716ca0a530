"""Annotation files for mmaction2's ``VideoDataset`` from the standard UCF-101 and Kinetics layouts.

``VideoDataset`` reads text lines ``<path relative to data_prefix.video> <label>``. The converters check every video
they list, so a broken data set fails here, naming the file, rather than mid-training:

- UCF-101: ``<root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` and ``<root>/ucfTrainTestlist/{classInd.txt,
  trainlist0N.txt, testlist0N.txt}`` (``classInd.txt`` lines ``<1-based index> <Class>``; train lists carry a
  1-based label as a second column, test lists none). Labels are written 0-based; the class of a line is read from
  its directory and must be in ``classInd.txt`` (and agree with a train list's label).
- Kinetics: the official CSV (``label,youtube_id,time_start,time_end,split[,is_cc]``) and a directory of videos,
  each either ``<videos>/<label>/<id>_<start:06d>_<end:06d>.<ext>`` or ``<videos>/<id>_<start:06d>_<end:06d>.<ext>``.
  Classes are indexed in sorted order of their names (mmaction2's convention); ``classes`` fixes the list instead
  (use the training list's for the validation list). Missing videos are common in Kinetics downloads:
  ``skip_missing=True`` leaves them out and reports them, otherwise the first one raises.

Rawframes (``RawFrameDataset``, e.g. the MARS configs): ``write_ucf101_annotations(..., rawframes=<dir>)`` writes
``<Class>/v_<Class>_gXX_cYY <total_frames> <label>`` lines for frames extracted to ``<dir>/<Class>/v_.../`` in
mmaction2's names (``img_00001.jpg`` RGB, ``x_00001.jpg`` / ``y_00001.jpg`` flow, numbered from 1 without gaps).
``total_frames`` counts what the modality reads: RGB frames, flow pairs (x and y must agree), or for ``'rgb+flow'``
(MARS: each sampled index is read in both) the smaller of the two, since dense-flow extractors write one flow
frame fewer than RGB frames.

``check='open'`` opens each video with decord (or OpenCV if decord is missing) and reads its first frame; ``'exists'``
only checks that the file is there; ``'none'`` checks nothing.
"""
from __future__ import annotations

import csv
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from ..datacheck import DataSetError, UnreadableFileError, naming_file

__all__ = ['DataSetError', 'UnreadableFileError', 'check_video', 'read_class_ind', 'ucf101_annotations',
           'write_ucf101_annotations', 'kinetics_annotations', 'write_kinetics_annotations', 'write_lines',
           'count_rawframes', 'rawframe_annotations']

CHECKS = ('open', 'exists', 'none')
VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov')
RAWFRAME_MODALITIES = {'rgb': ('img',), 'flow': ('x', 'y'), 'rgb+flow': ('img', 'x', 'y')}


def check_video(path: str, check: str = 'open') -> None:
    """Raise :class:`DataSetError` naming ``path`` if it is missing (``check`` 'exists' / 'open'), or its subclass
    :class:`UnreadableFileError` if it cannot be decoded ('open': decord, else OpenCV, must read its first frame)."""
    if check not in CHECKS:
        raise ValueError(f'check must be one of {CHECKS}, got {check!r}')
    if check == 'none':
        return
    if not osp.isfile(path):
        raise DataSetError(f'missing video: {path}')
    if check == 'exists':
        return
    try:
        import decord
    except ImportError:
        decord = None
    if decord is not None:
        with naming_file(path, 'video'):  # decord raises DECORDError (a RuntimeError) with a C++ trace
            reader = decord.VideoReader(path, num_threads=1)
            if len(reader) < 1:
                raise UnreadableFileError(f'unreadable video (no frames): {path}')
            reader[0].asnumpy()
        return
    import cv2
    cap = cv2.VideoCapture(path)
    try:
        ok, _ = cap.read()
    finally:
        cap.release()
    if not ok:
        raise UnreadableFileError(f'unreadable video (OpenCV could not read a frame): {path}')


def _lines(path: str) -> List[str]:
    if not osp.isfile(path):
        raise DataSetError(f'missing list file: {path}')
    with open(path, encoding='utf-8') as f:
        return [ln.strip() for ln in f if ln.strip()]


def read_class_ind(path: str) -> Dict[str, int]:
    """``classInd.txt`` -> {class name: 0-based label}."""
    classes = {}
    for n, line in enumerate(_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataSetError(f'{path}, line {n}: expected "<index> <ClassName>", got {line!r}')
        classes[parts[1]] = int(parts[0]) - 1
    if sorted(classes.values()) != list(range(len(classes))):
        raise DataSetError(f'{path}: class indices must run 1..{len(classes)} once each')
    return classes


def ucf101_annotations(root: str, split: int = 1, subset: str = 'train', check: str = 'open',
                       video_dir: str = 'UCF-101', list_dir: str = 'ucfTrainTestlist') -> List[Tuple[str, int]]:
    """``[(path relative to <root>/<video_dir>, 0-based label)]`` of one split's train or test list."""
    if subset not in ('train', 'test'):
        raise ValueError(f'subset must be "train" or "test", got {subset!r}')
    if split not in (1, 2, 3):
        raise ValueError(f'UCF-101 has splits 1, 2 and 3, got {split!r}')
    lists = osp.join(root, list_dir)
    class_ind = osp.join(lists, 'classInd.txt')
    classes = read_class_ind(class_ind)
    list_file = osp.join(lists, f'{subset}list0{split}.txt')
    out = []
    for n, line in enumerate(_lines(list_file), 1):
        parts = line.split()
        rel = parts[0].replace('\\', '/')
        cls = rel.split('/')[0] if '/' in rel else re.sub(r'^v_(.+)_g\d+_c\d+\.\w+$', r'\1', rel)
        if cls not in classes:
            raise DataSetError(f'{list_file}, line {n}: class "{cls}" of {rel} is not in {class_ind} '
                               f'({len(classes)} classes there)')
        label = classes[cls]
        if len(parts) > 1:
            given = int(parts[1]) - 1
            if given != label:
                raise DataSetError(f'{list_file}, line {n}: label {parts[1]} of {rel} disagrees with {class_ind}, '
                                   f'where "{cls}" is {label + 1}')
        check_video(osp.join(root, video_dir, rel), check)
        out.append((rel, label))
    if not out:
        raise DataSetError(f'{list_file} lists no videos')
    return out


def write_lines(rows: Sequence[tuple], out_file: str) -> str:
    """One line per row, its fields separated by spaces (``<path> <label>`` or ``<dir> <frames> <label>``)."""
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w', encoding='utf-8') as f:
        f.writelines(' '.join(map(str, row)) + '\n' for row in rows)
    return out_file


def count_rawframes(video_dir: str, modality: str = 'rgb') -> int:
    """The ``total_frames`` of one extracted video for ``modality`` ('rgb', 'flow' or 'rgb+flow'; see the module
    docstring). Raises :class:`DataSetError` naming the directory when it is missing, holds none of the frames, has
    a gap in their numbering, or has unequal x and y flow."""
    if modality not in RAWFRAME_MODALITIES:
        raise ValueError(f'modality must be one of {tuple(RAWFRAME_MODALITIES)}, got {modality!r}')
    if not osp.isdir(video_dir):
        raise DataSetError(f'missing frame directory: {video_dir}')
    names = os.listdir(video_dir)
    counts = {}
    for prefix in RAWFRAME_MODALITIES[modality]:
        pattern = re.compile(rf'^{prefix}_(\d+)\.jpg$')
        numbers = sorted(int(m.group(1)) for m in map(pattern.match, names) if m)
        if not numbers:
            raise DataSetError(f'{video_dir} holds no {prefix}_00001.jpg-style frames ({modality} needs '
                               f'{", ".join(p + "_*.jpg" for p in RAWFRAME_MODALITIES[modality])})')
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
        if missing:
            raise DataSetError(f'{video_dir}: {prefix}_*.jpg frames must be numbered 1..{numbers[-1]} without '
                               f'gaps; missing {prefix}_{missing[0]:05d}.jpg' + (f' and {len(missing) - 1} more'
                                                                                 if len(missing) > 1 else ''))
        counts[prefix] = numbers[-1]
    if 'x' in counts and counts['x'] != counts['y']:
        raise DataSetError(f'{video_dir}: {counts["x"]} x-flow frames but {counts["y"]} y-flow frames')
    return min(counts.values())


def rawframe_annotations(pairs: Sequence[Tuple[str, int]], frames_root: str,
                         modality: str = 'rgb') -> List[Tuple[str, int, int]]:
    """Video list rows ``(<Class>/v_X.avi, label)`` -> rawframe rows ``(<Class>/v_X, total_frames, label)`` for the
    frames extracted under ``frames_root`` (the configs' ``data_prefix=dict(img=...)``)."""
    rows = []
    for rel, label in pairs:
        stem = osp.splitext(rel)[0]
        rows.append((stem, count_rawframes(osp.join(frames_root, stem), modality), label))
    return rows


def write_ucf101_annotations(root: str, out_dir: Optional[str] = None, splits: Sequence[int] = (1,),
                             check: str = 'open', rawframes: Optional[str] = None,
                             modality: str = 'rgb+flow') -> List[str]:
    """Write ``ucf101_{train,val}_split_N_videos.txt`` (mmaction2's names) for each split; returns the files.
    Videos are relative to ``<root>/UCF-101`` (the ``data_prefix=dict(video=...)`` of the configs). With
    ``rawframes`` (the directory the frames were extracted to) write ``ucf101_{train,val}_split_N_rawframes.txt``
    instead, counting each video's frames for ``modality`` (the videos themselves are then not needed)."""
    out_dir = out_dir or root
    files = []
    for split in splits:
        for subset, name in (('train', 'train'), ('test', 'val')):
            if rawframes is None:
                rows = ucf101_annotations(root, split, subset, check=check)
                files.append(write_lines(rows, osp.join(out_dir, f'ucf101_{name}_split_{split}_videos.txt')))
            else:
                rows = rawframe_annotations(ucf101_annotations(root, split, subset, check='none'), rawframes,
                                            modality)
                files.append(write_lines(rows, osp.join(out_dir, f'ucf101_{name}_split_{split}_rawframes.txt')))
    return files


def _kinetics_rows(csv_file: str) -> List[dict]:
    if not osp.isfile(csv_file):
        raise DataSetError(f'missing list file: {csv_file}')
    with open(csv_file, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    need = {'label', 'youtube_id', 'time_start', 'time_end'}
    if not rows or not need <= set(rows[0]):
        raise DataSetError(f'{csv_file}: expected a Kinetics CSV with columns {sorted(need)}, '
                           f'got {sorted(rows[0]) if rows else "no rows"}')
    return rows


def _find_kinetics_video(videos: str, label: str, stem: str) -> Optional[str]:
    for sub in (label, label.replace(' ', '_'), ''):
        for ext in VIDEO_EXTS:
            rel = osp.join(sub, stem + ext) if sub else stem + ext
            if osp.isfile(osp.join(videos, rel)):
                return rel
    return None


def kinetics_annotations(csv_file: str, videos: str, classes: Optional[Sequence[str]] = None, check: str = 'open',
                         skip_missing: bool = False) -> Tuple[List[Tuple[str, int]], List[str], List[str]]:
    """``(pairs, classes, missing)`` for a Kinetics CSV whose videos lie under ``videos``."""
    rows = _kinetics_rows(csv_file)
    if classes is None:
        classes = sorted({r['label'] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    pairs, missing = [], []
    for n, r in enumerate(rows, 2):
        if r['label'] not in index:
            raise DataSetError(f'{csv_file}, line {n}: class "{r["label"]}" is not in the class list '
                               f'({len(classes)} classes)')
        stem = f'{r["youtube_id"]}_{int(float(r["time_start"])):06d}_{int(float(r["time_end"])):06d}'
        rel = _find_kinetics_video(videos, r['label'], stem)
        if rel is None:
            where = osp.join(videos, r['label'], stem + '.mp4')
            if skip_missing:
                missing.append(where)
                continue
            raise DataSetError(f'missing video: {where} ({csv_file}, line {n}; also looked for other extensions '
                               f'and directly under {videos}); pass skip_missing to leave missing videos out')
        if ' ' in rel:
            raise DataSetError(f'{osp.join(videos, rel)}: mmaction2\'s VideoDataset splits list lines at spaces; '
                               'rename class directories with underscores (abseiling/..., air_drumming/...)')
        check_video(osp.join(videos, rel), check)
        pairs.append((rel, index[r['label']]))
    return pairs, list(classes), missing


def write_kinetics_annotations(csv_file: str, videos: str, out_file: str, classes: Optional[Sequence[str]] = None,
                               check: str = 'open', skip_missing: bool = False) -> Tuple[str, List[str], List[str]]:
    """Write ``out_file`` (and ``<out_file stem>_classes.txt``); returns (out_file, classes, missing)."""
    pairs, classes, missing = kinetics_annotations(csv_file, videos, classes, check, skip_missing)
    write_lines(pairs, out_file)
    with open(osp.splitext(out_file)[0] + '_classes.txt', 'w', encoding='utf-8') as f:
        f.writelines(c + '\n' for c in classes)
    return out_file, classes, missing
