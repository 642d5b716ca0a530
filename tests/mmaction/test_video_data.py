"""UCF-101 / Kinetics layouts -> mmaction2 annotation files; broken data sets fail naming the file."""
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.video import write_kinetics, write_ucf101
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
