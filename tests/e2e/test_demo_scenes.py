"""``make demo`` reduced: the default task (the digit scenes) through tools/demo.py, which trains plain, + NL, + SNL
and + gSNL with tools/train.py and tests them with tools/test.py (40 iterations: the mechanics; that + SNL learns the
scenes above chance is tests/e2e/test_learning.py's), and writes the tables, the learning curves, the scenes
picture (predictions and the affinity of a query on the box) and the affinity shares."""
import json

import pytest
from PIL import Image

from fixtures.tools import check, run_tool

pytestmark = pytest.mark.slow

LABELS = ['DeepLabV3-R18', 'DeepLabV3-R18 + NL', 'DeepLabV3-R18 + SNL', 'DeepLabV3-R18 + gSNL']


def test_default_demo_reduced_writes_the_comparison_and_pictures(tmp_path):
    out = tmp_path / 'demo'
    # two runs side by side, one thread each (the default on this 2-CPU machine, said here to be the same elsewhere)
    stdout = check(run_tool('tools/demo.py', '--seeds', '0', '--iters', '40', '--train-size', '40', '--test-size',
                            '64', '--jobs', '2', '--out', out, timeout=1200))
    assert '1 seed (0)' in stdout and 'box accuracy (%)' in stdout and 'one seed: no spread measured' in stdout
    for label in LABELS:
        assert f'| {label} |' in stdout
    res = json.loads((out / 'results.json').read_text())
    assert res['task'] == 'scenes' and res['models'] == LABELS and res['seeds'] == [0]
    assert [r['model'] for r in res['runs']] == LABELS  # in order, although trained side by side
    for run in res['runs']:
        assert run['jobs'] == 2 and run['train_cpu_s'] > 1.0  # the tool's own CPU time
        m = run['metrics']
        assert all(0 <= m[k] <= 100 for k in ('aAcc', 'mIoU', 'box_acc')), (run['model'], m)
        assert run['curves']['val_step'] == [10, 20, 30, 40]
    params = [r['params'] for r in res['rows']]
    assert params[0] < min(params[1:])  # a block on top of the same network
    with Image.open(out / 'scenes.png') as im:
        assert im.size[0] > 600 and im.size[1] > 200
    assert (out / 'learning_curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    shares = json.loads((out / 'affinity.json').read_text())
    assert shares['scenes'] == 64 and shares['seeds'] == [0] and set(shares['shares']) == set(LABELS[1:])
    for s in shares['shares'].values():
        assert all(0 <= v <= 1 for k in ('twice', 'once', 'box') for v in s[k])
    assert '| DeepLabV3-R18 + SNL |' in (out / 'results.md').read_text()
