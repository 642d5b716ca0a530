"""mmaction2's video and rawframe data sets with their list files checked when built and decode errors named.

``CheckedVideoDataset`` / ``CheckedRawframeDataset`` (registered in mmaction2's ``DATASETS`` when this module is
imported: configs list it in ``custom_imports``, as they do for ``VTNHead``) take every argument of mmaction2's
``VideoDataset`` / ``RawframeDataset`` and read the same list files, plus ``num_classes`` (required):

- when the data set is built, every non-blank line must hold its fields (``<path> <label>``;
  ``<frame dir> [<offset>] <total frames> <label>``; ``multi_class``: one label or more) with integer labels in
  ``[0, num_classes)`` and a positive frame count; anything else raises
  :class:`~snl_plugins.datacheck.DataSetError` naming the list file and line. Upstream accepts a line without a
  label (label -1) or with a label beyond the classifier's, and training then fails inside ``cross_entropy``.
- when a sample is read, an error of its pipeline (decord's ``Error reading 0 bytes`` for a truncated video, a frame
  that does not decode) is raised again as :class:`~snl_plugins.datacheck.UnreadableFileError` naming the video (or
  frame directory) and its list line, chained to the original.

The files themselves are not opened at build time (that would decode the whole data set; ``check='open'`` of
:mod:`snl_plugins.mmaction.data` does it once, when the lists are written). Importing this module imports
``mmaction.datasets`` (about a second), which is why ``import snl_plugins`` does not.
"""
import os.path as osp
from typing import List, Sequence

from mmaction.datasets import RawframeDataset, VideoDataset
from mmaction.registry import DATASETS
from mmengine.fileio import list_from_file

from ..datacheck import DataSetError, check_label, naming_file

__all__ = ['CheckedRawframeDataset', 'CheckedVideoDataset']


class _CheckedList:
    """What both checked data sets add to their mmaction2 base: list lines parsed and checked with their numbers,
    and pipeline errors named. Subclasses set ``path_key`` / ``what`` and implement ``_parse``."""
    path_key = ''  # the data-info key of the sample's file or directory
    what = ''  # what it is, for messages
    fields = ''  # the line format, for messages (a property in the subclasses: it depends on their options)

    def load_data_list(self) -> List[dict]:
        """Every non-blank line of ``ann_file`` parsed by ``_parse``, its 1-based number kept as ``list_line``."""
        if self.num_classes is None or int(self.num_classes) < 1:
            raise DataSetError(f'{type(self).__name__}: num_classes (the classifier\'s, e.g. 101 for UCF-101) is '
                               f'needed to check the labels of {self.ann_file}; got {self.num_classes!r}')
        data_list = []
        for n, line in enumerate(list_from_file(self.ann_file), 1):
            if not line.strip():
                continue
            info = self._parse(line.strip(), f'{self.ann_file}, line {n}')
            info['list_line'] = n
            data_list.append(info)
        if not data_list:
            raise DataSetError(f'{self.ann_file} lists no samples (expected lines "{self.fields}")')
        return data_list

    def _parse(self, line: str, at: str) -> dict:
        """One stripped, non-blank line -> the sample's data info as the mmaction2 base makes it; errors name
        ``at`` (``'<list>, line N'``). Each subclass reads its own format."""
        raise NotImplementedError(f'{type(self).__name__} must define _parse')

    def _labels(self, fields: Sequence[str], at: str, line: str):
        """The label (or, ``multi_class``, the list of labels) of a line, each checked against ``num_classes``."""
        if not fields or (not self.multi_class and len(fields) != 1):
            raise DataSetError(f'{at}: expected "{self.fields}", got {line!r}'
                               + (' (no label)' if not fields else ''))
        labels = [check_label(f, int(self.num_classes), at) for f in fields]
        return labels if self.multi_class else labels[0]

    def prepare_data(self, idx: int) -> dict:
        """``BaseDataset.prepare_data`` (the pipeline on the sample's info), an error in it naming the sample."""
        info = self.get_data_info(idx)
        with naming_file(info[self.path_key], self.what, f'{self.ann_file}, line {info["list_line"]}'):
            return self.pipeline(info)


@DATASETS.register_module()
class CheckedVideoDataset(_CheckedList, VideoDataset):
    """mmaction2's ``VideoDataset`` (lines ``<path> <label>``) with the checks of the module docstring.

    Args:
        num_classes: the classifier's number of classes; every label must lie in ``[0, num_classes)``.
        **kwargs: as for ``VideoDataset`` (``ann_file``, ``pipeline``, ``data_prefix``, ``multi_class``,
            ``delimiter``, ...).
    """
    path_key = 'filename'
    what = 'video'

    @property
    def fields(self) -> str:
        return '<path> <label>' + (' [<label> ...]' if self.multi_class else '')

    def _parse(self, line: str, at: str) -> dict:
        path, *labels = line.split(self.delimiter)
        if self.data_prefix['video'] is not None:
            path = osp.join(self.data_prefix['video'], path)
        return dict(filename=path, label=self._labels(labels, at, line))


@DATASETS.register_module()
class CheckedRawframeDataset(_CheckedList, RawframeDataset):
    """mmaction2's ``RawframeDataset`` (lines ``<frame dir> [<offset>] <total frames> <label>``) with the checks of
    the module docstring.

    Args:
        num_classes: the classifier's number of classes; every label must lie in ``[0, num_classes)``.
        **kwargs: as for ``RawframeDataset`` (``ann_file``, ``pipeline``, ``data_prefix``, ``filename_tmpl``,
            ``with_offset``, ``multi_class``, ``modality``, ...).
    """
    path_key = 'frame_dir'
    what = 'frames of video'

    @property
    def fields(self) -> str:
        return ('<frame dir> ' + ('<offset> ' if self.with_offset else '') + '<total frames> <label>'
                + (' [<label> ...]' if self.multi_class else ''))

    def _parse(self, line: str, at: str) -> dict:
        parts = line.split()
        counts = 2 if self.with_offset else 1
        if len(parts) < 1 + counts or not all(p.isdigit() for p in parts[1:1 + counts]):
            raise DataSetError(f'{at}: expected "{self.fields}", got {line!r}')
        frame_dir = parts[0]
        if self.data_prefix['img'] is not None:
            frame_dir = osp.join(self.data_prefix['img'], frame_dir)
        info = dict(frame_dir=frame_dir)
        if self.with_offset:
            info['offset'] = int(parts[1])
        info['total_frames'] = int(parts[counts])
        if info['total_frames'] < 1:
            raise DataSetError(f'{at}: {frame_dir} has {info["total_frames"]} frames; a video needs at least one')
        info['label'] = self._labels(parts[1 + counts:], at, line)
        return info
