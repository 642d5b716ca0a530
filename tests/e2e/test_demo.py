"""`make demo` end to end at reduced length: tools/demo.py (through tools/train.py and tools/test.py) on a stratified
subset of the digits, 1 epoch, 1 seed; checks the table, the PNG, the checkpoints and the metrics' ranges. The data
writers (split, layout, pairs) are checked without training."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from snl_plugins import demo  # noqa: E402


def test_write_digits_split_is_fixed_stratified_and_disjoint(tmp_path):
    info = demo.write_digits(tmp_path / 'd')
    assert (info['n_train'], info['n_test']) == (1297, 500)
    assert sorted(info['test_per_class']) == [48, 49, 50, 50, 50, 50, 50, 51, 51, 51]  # stratified
    assert not set(info['train_index']) & set(info['test_index'])
    _, test = demo._split(demo._digits()[1])
    assert test.tolist() == info['test_index']  # fixed split
    pngs = sorted((tmp_path / 'd' / 'test').glob('*/*.png'))
    assert len(pngs) == 500 and {p.parent.name for p in pngs} == {str(c) for c in range(10)}
    from PIL import Image
    with Image.open(pngs[0]) as im:
        assert im.size == (16, 16)
    # the config's normalisation is the data's
    from mmengine.config import Config
    cfg = Config.fromfile(str(demo.CFG_DIR / 'preresnet20_digits.py'))
    assert cfg.model.data_preprocessor.mean[0] == pytest.approx(info['train_mean'], abs=0.1)
    assert cfg.model.data_preprocessor.std[0] == pytest.approx(info['train_std'], abs=0.1)


def test_write_digit_pairs_balanced_and_from_the_right_split(tmp_path):
    info = demo.write_digit_pairs(tmp_path / 'p', n_train=40, n_test=20)
    for split, n in (('train', 40), ('test', 20)):
        for cls in ('same', 'different'):
            assert len(list((tmp_path / 'p' / split / cls).glob('*.png'))) == n // 2
    from PIL import Image
    with Image.open(next((tmp_path / 'p' / 'train' / 'same').glob('*.png'))) as im:
        a = np.asarray(im)
    assert a.shape == (32, 32) and a.max() > 0
    full = demo.write_digit_pairs(tmp_path / 'q', n_train=2, n_test=2)
    from mmengine.config import Config
    cfg = Config.fromfile(str(demo.CFG_DIR / 'preresnet20-snl_pairs.py'))
    assert cfg.model.model.num_classes == 2 and cfg.model.model.name == 'preresnet20_snl'
    assert info['task'] == full['task'] == 'pairs'


@pytest.mark.slow
def test_demo_end_to_end_reduced(tmp_path):
    out = tmp_path / 'demo'
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    proc = subprocess.run([sys.executable, 'tools/demo.py', '--seeds', '0', '--epochs', '1', '--train-size', '128',
                           '--test-size', '50', '--out', str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert '| PreResNet-20 |' in proc.stdout and '| PreResNet-20 + SNL |' in proc.stdout
    assert (out / 'learning_curves.png').stat().st_size > 10_000
    assert (out / 'learning_curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '| PreResNet-20 + SNL |' in (out / 'results.md').read_text()
    res = json.loads((out / 'results.json').read_text())
    assert res['data']['n_train'] == 128 and res['data']['n_test'] == 50
    assert [r['model'] for r in res['rows']] == ['PreResNet-20', 'PreResNet-20 + SNL']
    params = [r['params'] for r in res['rows']]
    assert params[0] < params[1] < params[0] * 1.01  # one small SNL block on top of the same network
    assert len(res['runs']) == 2
    for run in res['runs']:
        wd = Path(run['work_dir'])
        assert (wd / 'epoch_1.pth').is_file() and (wd / 'last_checkpoint').is_file()
        assert 0 <= run['top1'] <= 100 and 0 <= run['last_val_top1'] <= 100
        assert run['top1'] == pytest.approx(run['last_val_top1'], abs=1e-3)  # tools/test.py on the final checkpoint
        assert run['sec_per_epoch'] > 0 and run['curves']['epoch'] == [1]
        assert len(run['curves']['train_loss']) == 1 and np.isfinite(run['curves']['train_loss'][0])
        assert run['curves']['iters_per_epoch'] == [2]  # 128 images, batch 64
