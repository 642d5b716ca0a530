"""UCF-101 / Kinetics layouts -> mmaction2 annotation files; broken data sets fail naming the file."""
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.datasets import truncate_file
from fixtures.video import write_kinetics, write_ucf101
from snl_plugins.datacheck import UnreadableFileError
from snl_plugins.mmaction.data import (DataSetError, check_video, kinetics_annotations, ucf101_annotations,
                                       write_kinetics_annotations, write_ucf101_annotations)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def ucf(tmp_path_factory):
    return Path(write_ucf101(tmp_path_factory.mktemp('ucf') / 'ucf101', frames=4))


def test_ucf101_lists_are_written_with_0_based_labels(ucf, tmp_path):
    train, val = write_ucf101_annotations(str(ucf), str(tmp_path), splits=[1])
    assert Path(train).name == 'ucf101_train_split_1_videos.txt' and Path(val).name == 'ucf101_val_split_1_videos.txt'
    lines = Path(train).read_text().splitlines()
    assert 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0' in lines and 'CliffDiving/v_CliffDiving_g09_c01.avi 2' in lines
    assert Path(val).read_text().splitlines() == [
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0', 'Basketball/v_Basketball_g01_c01.avi 1',
        'CliffDiving/v_CliffDiving_g01_c01.avi 2']


def _copy(ucf, tmp_path):
    import shutil
    dst = tmp_path / 'ucf101'
    shutil.copytree(ucf, dst)
    return dst


def test_missing_video_names_the_file(ucf, tmp_path):
    root = _copy(ucf, tmp_path)
    gone = root / 'UCF-101' / 'Basketball' / 'v_Basketball_g09_c01.avi'
    gone.unlink()
    with pytest.raises(DataSetError, match=f'missing video: {gone}'):
        ucf101_annotations(str(root), 1, 'train')


def test_unreadable_video_names_the_file(ucf, tmp_path):
    root = _copy(ucf, tmp_path)
    bad = root / 'UCF-101' / 'Basketball' / 'v_Basketball_g01_c01.avi'
    bad.write_bytes(b'not a video at all' * 10)
    with pytest.raises(DataSetError, match=f'unreadable video.*{bad}'):
        ucf101_annotations(str(root), 1, 'test')
    assert len(ucf101_annotations(str(root), 1, 'test', check='exists')) == 3  # only with check='open'
    with pytest.raises(DataSetError, match='unreadable video'):
        check_video(str(bad))


def test_class_missing_from_class_ind_names_the_files(ucf, tmp_path):
    root = _copy(ucf, tmp_path)
    ind = root / 'ucfTrainTestlist' / 'classInd.txt'
    ind.write_text('1 ApplyEyeMakeup\n2 Basketball\n')
    with pytest.raises(DataSetError, match=r'testlist01.txt, line 3: class "CliffDiving" of '
                       r'CliffDiving/v_CliffDiving_g01_c01.avi is not in .*classInd.txt'):
        ucf101_annotations(str(root), 1, 'test', check='none')


def test_disagreeing_train_label_is_refused(ucf, tmp_path):
    root = _copy(ucf, tmp_path)
    lst = root / 'ucfTrainTestlist' / 'trainlist01.txt'
    lst.write_text(lst.read_text().replace('g08_c01.avi 1', 'g08_c01.avi 3', 1))
    with pytest.raises(DataSetError, match='disagrees with'):
        ucf101_annotations(str(root), 1, 'train', check='none')


def test_kinetics_csv_and_missing_videos(tmp_path):
    csv_file, videos = write_kinetics(tmp_path / 'k400', frames=4)
    out, classes, missing = write_kinetics_annotations(csv_file, videos, str(tmp_path / 'train_list.txt'))
    assert classes == ['abseiling', 'air drumming'] and not missing
    lines = Path(out).read_text().splitlines()
    assert lines[0] == 'abseiling/abs00000000_000000_000010.mp4 0' and lines[-1].endswith(' 1')
    assert (tmp_path / 'train_list_classes.txt').read_text().splitlines() == classes
    gone = Path(videos) / 'air_drumming' / 'air00000001_000010_000020.mp4'
    gone.unlink()
    with pytest.raises(DataSetError, match='missing video: .*air00000001_000010_000020.mp4'):
        kinetics_annotations(csv_file, videos)
    pairs, _, missing = kinetics_annotations(csv_file, videos, skip_missing=True)
    assert len(pairs) == 3 and len(missing) == 1
    with pytest.raises(DataSetError, match='class "air drumming" is not in the class list'):
        kinetics_annotations(csv_file, videos, classes=['abseiling'], skip_missing=True)


@pytest.mark.slow
def test_converter_tool(ucf, tmp_path):
    tool = ROOT / 'tools' / 'data' / 'ucf101_to_mmaction.py'
    env_py = sys.executable
    proc = subprocess.run([env_py, str(tool), 'ucf101', str(ucf), '--splits', '1', '--out-dir', str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / 'ucf101_train_split_1_videos.txt').is_file()
    root = _copy(ucf, tmp_path)
    (root / 'UCF-101' / 'CliffDiving' / 'v_CliffDiving_g01_c01.avi').unlink()
    proc = subprocess.run([env_py, str(tool), 'ucf101', str(root), '--splits', '1'],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1 and 'v_CliffDiving_g01_c01.avi' in proc.stderr


def _extract_rawframes(ucf: Path, out: Path) -> Path:
    """Frames of every video as an extractor writes them: img_00001.jpg ... (decoded with OpenCV) and one flow pair
    fewer (x_/y_00001.jpg ..., as dense-flow extractors give T - 1 flow frames)."""
    import cv2
    import numpy as np
    for video in sorted((ucf / 'UCF-101').glob('*/*.avi')):
        frames_dir = out / video.parent.name / video.stem
        frames_dir.mkdir(parents=True)
        cap, t = cv2.VideoCapture(str(video)), 0
        ok, frame = cap.read()
        while ok:
            t += 1
            cv2.imwrite(str(frames_dir / f'img_{t:05d}.jpg'), frame)
            ok, frame = cap.read()
        for i in range(1, t):
            for axis in 'xy':
                cv2.imwrite(str(frames_dir / f'{axis}_{i:05d}.jpg'), np.full((32, 32), 128, np.uint8))
    return out


def test_rawframe_lists_count_frames_per_modality_and_load_in_mmaction(ucf, tmp_path, mmaction_scope):
    frames = _extract_rawframes(ucf, tmp_path / 'rawframes')
    train, val = write_ucf101_annotations(str(ucf), str(tmp_path), splits=[1], rawframes=str(frames))
    assert Path(train).name == 'ucf101_train_split_1_rawframes.txt'
    assert Path(val).read_text().splitlines() == [  # 4 RGB frames, 3 flow pairs: MARS reads indices 1..3
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 3 0', 'Basketball/v_Basketball_g01_c01 3 1',
        'CliffDiving/v_CliffDiving_g01_c01 3 2']
    rgb_only, _ = write_ucf101_annotations(str(ucf), str(tmp_path / 'rgb'), splits=[1], rawframes=str(frames),
                                           modality='rgb')
    assert 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01 4 0' in Path(rgb_only).read_text().splitlines()

    from mmaction.datasets import RawframeDataset
    pipeline = [dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1),
                dict(type='RawFrameDecode'), dict(type='FormatShape', input_format='NCTHW'),
                dict(type='PackActionInputs')]
    dataset = RawframeDataset(rgb_only, pipeline, data_prefix=dict(img=str(frames)))
    assert len(dataset) == 6 and dataset[0]['inputs'].shape == (1, 3, 4, 32, 32)


def test_rawframe_errors_name_the_directory(tmp_path):
    from snl_plugins.mmaction.data import count_rawframes
    video = tmp_path / 'Basketball' / 'v_Basketball_g01_c01'
    with pytest.raises(DataSetError, match='missing frame directory: .*v_Basketball_g01_c01'):
        count_rawframes(str(video))
    video.mkdir(parents=True)
    for name in ('img_00001.jpg', 'img_00003.jpg', 'x_00001.jpg', 'x_00002.jpg', 'y_00001.jpg'):
        (video / name).write_bytes(b'')
    with pytest.raises(DataSetError, match='missing img_00002.jpg'):
        count_rawframes(str(video))
    with pytest.raises(DataSetError, match='2 x-flow frames but 1 y-flow frames'):
        count_rawframes(str(video), 'flow')
    with pytest.raises(DataSetError, match='holds no img_00001.jpg-style frames'):
        count_rawframes(str(tmp_path / 'Basketball'))
    with pytest.raises(ValueError, match="modality must be one of"):
        count_rawframes(str(video), 'depth')


# --- CheckedVideoDataset / CheckedRawframeDataset: lists checked when built, decode errors named ----------------
DECODE = [dict(type='DecordInit'), dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1),
          dict(type='DecordDecode'), dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]


def _video_list(path: Path, *lines: str) -> str:
    path.write_text(''.join(line + '\n' for line in lines))
    return str(path)


def test_checked_video_dataset_reads_what_video_dataset_reads(ucf, tmp_path, mmaction_scope):
    from mmaction.datasets import VideoDataset
    from snl_plugins.mmaction.datasets import CheckedVideoDataset
    train, _ = write_ucf101_annotations(str(ucf), str(tmp_path), splits=[1], check='none')
    with open(train, 'a') as f:
        f.write('\n')  # a trailing blank line is skipped (upstream makes a sample of it with label -1)
    prefix = dict(video=str(ucf / 'UCF-101'))
    checked = CheckedVideoDataset(train, DECODE, data_prefix=prefix, num_classes=3)
    upstream = VideoDataset(train, DECODE, data_prefix=prefix)
    assert len(checked) == 6 and len(upstream) == 7
    for i in range(len(checked)):
        info = checked.get_data_info(i)
        assert info.pop('list_line') == i + 1 and info == upstream.get_data_info(i)
    assert checked[0]['inputs'].shape == upstream[0]['inputs'].shape == (1, 3, 4, 32, 32)


@pytest.mark.parametrize('line, message', [
    ('Basketball/v_Basketball_g01_c01.avi 500', "line 2: label '500' is not one of the 101 classes "
                                                r'\(integers 0..100\)'),
    ('Basketball/v_Basketball_g01_c01.avi -1', "line 2: label '-1' is not one of the 101 classes"),
    ('Basketball/v_Basketball_g01_c01.avi one', "line 2: label 'one' is not one of the 101 classes"),
    ('Basketball/v_Basketball_g01_c01.avi', r'line 2: expected "<path> <label>", got .*c01.avi\' \(no label\)'),
    ('Basketball/v_Basketball_g01_c01.avi 1 2', 'line 2: expected "<path> <label>", got'),
])
def test_checked_video_dataset_refuses_bad_list_lines_at_build(tmp_path, mmaction_scope, line, message):
    from snl_plugins.mmaction.datasets import CheckedVideoDataset
    ann = _video_list(tmp_path / 'list.txt', 'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0', line)
    with pytest.raises(DataSetError, match=f'{ann}, {message}'):
        CheckedVideoDataset(ann, DECODE, num_classes=101)


def test_checked_video_dataset_needs_num_classes_and_samples(tmp_path, mmaction_scope):
    from snl_plugins.mmaction.datasets import CheckedVideoDataset
    ann = _video_list(tmp_path / 'list.txt', 'a.avi 0')
    with pytest.raises(DataSetError, match=f'num_classes .* is needed to check the labels of {ann}'):
        CheckedVideoDataset(ann, DECODE)
    empty = _video_list(tmp_path / 'empty.txt', '')
    with pytest.raises(DataSetError, match=f'{empty} lists no samples'):
        CheckedVideoDataset(empty, DECODE, num_classes=2)
    multi = CheckedVideoDataset(_video_list(tmp_path / 'multi.txt', 'a.avi 0 1'), DECODE, num_classes=2,
                                multi_class=True)
    assert multi.get_data_info(0)['label'].tolist() == [1.0, 1.0]


@pytest.mark.parametrize('keep', [0.0, 0.5])
def test_corrupt_video_names_the_file_and_list_line(ucf, tmp_path, mmaction_scope, keep):
    from snl_plugins.mmaction.datasets import CheckedVideoDataset
    root = _copy(ucf, tmp_path)
    bad = truncate_file(root / 'UCF-101' / 'Basketball' / 'v_Basketball_g01_c01.avi', keep=keep)
    ann = _video_list(tmp_path / 'list.txt', 'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0', '',
                      'Basketball/v_Basketball_g01_c01.avi 1')
    ds = CheckedVideoDataset(ann, DECODE, data_prefix=dict(video=str(root / 'UCF-101')), num_classes=3)
    assert ds[0]['inputs'].shape == (1, 3, 4, 32, 32)
    with pytest.raises(UnreadableFileError, match=rf'unreadable video: {bad} \({ann}, line 3\): '
                                                  r'(DECORDError|RuntimeError): Error reading \d+ bytes'):
        ds[1]


def test_checked_rawframe_dataset(tmp_path, mmaction_scope):
    from fixtures.rawframes import write_rawframes
    from snl_plugins.mmaction.datasets import CheckedRawframeDataset
    data = Path(write_rawframes(tmp_path / 'data', num_classes=2, train_per_class=1, val_per_class=1, frames=4))
    pipeline = [dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1), dict(type='RawFrameDecode'),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    prefix = dict(img=str(data / 'rawframes'))
    ann = str(data / 'train_list_rawframes.txt')
    ds = CheckedRawframeDataset(ann, pipeline, data_prefix=prefix, num_classes=2)
    assert len(ds) == 2 and ds[1]['inputs'].shape == (1, 3, 4, 32, 32)
    frame_dir = data / 'rawframes' / 'class1_train0'
    truncate_file(frame_dir / 'img_00003.jpg', keep=0.0)
    with pytest.raises(UnreadableFileError, match=rf'unreadable frames of video: {frame_dir} \({ann}, line 2\)'):
        ds[1]
    for line, message in (('class0_train0 4 2', "line 1: label '2' is not one of the 2 classes"),
                          ('class0_train0 0 1', 'line 1: .*class0_train0 has 0 frames'),
                          ('class0_train0 1', r'line 1: expected "<frame dir> <total frames> <label>", got .* '
                                              r'\(no label\)'),
                          ('class0_train0', 'line 1: expected "<frame dir> <total frames> <label>"')):
        bad = _video_list(tmp_path / 'bad.txt', line)
        with pytest.raises(DataSetError, match=f'{bad}, {message}'):
            CheckedRawframeDataset(bad, pipeline, data_prefix=prefix, num_classes=2)
