"""`make demo-video` reduced: tools/demo.py --task video writes the moving-digits videos in the UCF-101 layout, trains
I3D plain and + SNL through tools/train.py, tests them through tools/test.py and writes the table, curves and JSON."""
import json

import pytest

from fixtures.tools import check, run_tool

pytest.importorskip('mmaction')
pytestmark = pytest.mark.slow


def test_demo_video_end_to_end_reduced(tmp_path):
    out = tmp_path / 'demo_video'
    stdout = check(run_tool('tools/demo.py', '--task', 'video', '--seeds', '0', '--epochs', '1', '--groups', '1', '1',
                            '2', '--batch-size', '6', '--out', out, timeout=600))
    assert '| I3D-R18 (narrow) |' in stdout and '| I3D-R18 (narrow) + SNL |' in stdout
    assert (out / 'learning_curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    lists = out / 'data' / 'ucf101'
    assert len(list((lists / 'UCF-101').glob('*/*.avi'))) == 3 * 2 * 2  # videos on disk, UCF-101 layout
    train = (lists / 'ucf101_train_split_1_videos.txt').read_text().splitlines()
    test = (lists / 'ucf101_val_split_1_videos.txt').read_text().splitlines()
    assert len(train) == len(test) == 3 * 2  # 3 classes x 1 group x 2 clips each
    res = json.loads((out / 'results.json').read_text())
    assert res['models'] == ['I3D-R18 (narrow)', 'I3D-R18 (narrow) + SNL']
    params = [r['params'] for r in res['rows']]
    assert params[0] < params[1]  # the SNL block on top of the same network
    for run in res['runs']:
        assert 0 <= run['metrics']['top1'] <= 100 and run['curves']['train_step'] == [1]
        assert run['curves']['step_time'] > 0
    for work in ('plain_seed0', 'snl_seed0'):
        assert (out / work / 'epoch_1.pth').is_file()
