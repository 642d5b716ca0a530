"""End to end: tools/train.py and tools/test.py on tiny Mars / iLIDS-VID / PRID2011 copies in their published layouts,
through the real re-ID configs (a tiny config inherits one and shrinks backbone, frames, batch and epochs)."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from fixtures.reid import write_ilidsvid, write_mars, write_prid2011
from fixtures.configs import tiny_reid_config
from fixtures.tools import check, free_port, run_tool, scalars

pytestmark = pytest.mark.slow
METRIC_KEYS = ('reid/mAP', 'reid/rank1', 'reid/rank5', 'reid/rank10', 'reid/rank20')


def line_metrics(out: str):
    """The metrics of the ``Epoch(test)`` line, each checked to lie in [0, 1]."""
    line = [l for l in out.splitlines() if 'Epoch(test)' in l and 'reid/mAP' in l]
    assert line, out[-3000:]
    values = {k: float(re.search(re.escape(k) + r': ([\d.]+)', line[-1]).group(1)) for k in METRIC_KEYS}
    assert all(0.0 <= v <= 1.0 for v in values.values()), values
    assert values['reid/rank1'] <= values['reid/rank5'] <= values['reid/rank10'] <= values['reid/rank20']
    return values


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    import timm
    import torch
    tmp = tmp_path_factory.mktemp('reid_e2e')
    weights = tmp / 'resnet18_in1k.pth'
    torch.save(timm.create_model('resnet18', num_classes=1000).state_dict(), weights)
    return dict(tmp=tmp, weights=weights, mars=write_mars(tmp / 'mars'), ilids=write_ilidsvid(tmp / 'ilids'),
                prid=write_prid2011(tmp / 'prid', min_frames=4))


def _train_and_test(data, name, base, root, num_ids, extra=''):
    cfg = tiny_reid_config(data['tmp'] / f'tiny_{name}.py', base, root, data['weights'], num_ids, extra)
    work = data['tmp'] / f'work_{name}'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert (work / 'epoch_2.pth').is_file()
    test_out = check(run_tool('tools/test.py', cfg, work / 'epoch_2.pth', '--work-dir', data['tmp'] / f'test_{name}'))
    return cfg, work, out, line_metrics(test_out)


def test_mars_rtmtp_snl_train_validate_test(data):
    cfg, work, out, metrics = _train_and_test(data, 'mars', 'rtmtp_r50-snl_1xp8k4-800e_mars.py', data['mars'], 4)
    assert 'Epoch(train) [2][2/2]' in out  # 4 identities / P = 2: two batches an epoch
    assert 'video re-ID (standard protocol): 4 query, 8 gallery tracklets' in out
    vals = [s for s in scalars(work) if 'reid/mAP' in s]
    assert len(vals) == 1 and all(0 <= vals[0][k] <= 1 for k in METRIC_KEYS)
    assert vals[0]['reid/mAP'] == pytest.approx(metrics['reid/mAP'], abs=1e-3)  # the same checkpoint, the same data
    assert list(work.glob('best_reid_mAP_epoch_*.pth'))
    losses = [s for s in scalars(work) if 'loss' in s]
    assert len(losses) == 4 and all('loss_ce' in s and 'loss_triplet' in s for s in losses)


def _train_with_validation(data, name, base, root, num_ids, extra=''):
    cfg = tiny_reid_config(data['tmp'] / f'tiny_{name}.py', base, root, data['weights'], num_ids, extra, epochs=1)
    work = data['tmp'] / f'work_{name}'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    vals = [s for s in scalars(work) if 'reid/mAP' in s]
    assert len(vals) == 1 and all(0 <= vals[0][k] <= 1 for k in METRIC_KEYS), vals
    assert (work / 'epoch_1.pth').is_file()
    return out


def test_ilidsvid_rtmta_snl3d_train_validate(data):
    # tools/test.py runs the same loop and metric as the validation (the Mars test checks both agree)
    out = _train_with_validation(data, 'ilids', 'rtmta_r50-snl3d_1xp8k4-800e_ilidsvid.py', data['ilids'], 3)
    assert 'Epoch(train) [1][1/1]' in out  # 3 training persons, P = 2: one batch an epoch
    assert 'video re-ID (standard protocol): 3 query, 3 gallery tracklets' in out  # cam1 / cam2 of 3 test persons
    assert (Path(data['ilids']) / 'splits_ilidsvid.json').is_file()


def test_prid2011_rtmtp_nl_train_validate(data):
    out = _train_with_validation(data, 'prid', 'rtmtp_r50-nl_1xp8k4-800e_prid2011.py', data['prid'], 3,
                                 extra=', min_frames=4')
    assert 'Epoch(train) [1][1/1]' in out
    assert 'video re-ID (standard protocol): 3 query, 3 gallery tracklets' in out
    assert (Path(data['prid']) / 'splits_prid2011.json').is_file()


def test_distributed_two_processes_gloo(data):
    """Two ranks: the identity sampler deals each one whole P x K batches (4 identities = one batch per rank), and the
    metric gathers the tracklet features of both ranks."""
    cfg = tiny_reid_config(data['tmp'] / 'tiny_mars_dist.py', 'rtmta_r50-nl3d_1xp8k4-800e_mars.py', data['mars'],
                      data['weights'], 4, epochs=1)
    work = data['tmp'] / 'dist'
    launcher = ['-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr=127.0.0.1',
                f'--master_port={free_port()}']
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work, '--launcher', 'pytorch',
                         '--cfg-options', 'env_cfg.dist_cfg.backend=gloo', launcher=launcher, timeout=300))
    assert 'Distributed training: True' in out
    assert 'Epoch(train) [1][1/1]' in out
    assert 'video re-ID (standard protocol): 4 query, 8 gallery tracklets' in out  # all 12 tracklets, both ranks
    vals = [s for s in scalars(work) if 'reid/mAP' in s]
    assert len(vals) == 1 and all(0 <= vals[0][k] <= 1 for k in METRIC_KEYS)


@pytest.mark.parametrize('base, key, extra', [('rtmtp_r50-snl_1xp8k4-800e_ilidsvid.py', 'ilids', ''),
                                              ('rtmta_r50_1xp8k4-800e_prid2011.py', 'prid', ', min_frames=4')])
def test_split_protocol_trains_and_tests_every_split_then_averages(data, base, key, extra):
    """tools/reid_splits.py: the split file made once, tools/train.py + tools/test.py per split (1 epoch), the
    averaged CMC / mAP in splits_summary and in result_table."""
    name = base.replace('1xp8k4-800e', '1xp2k2-1e').replace('.py', '')
    cfg = tiny_reid_config(data['tmp'] / f'{name}.py', base, data[key], data['weights'], 3, extra, epochs=1)
    work = data['tmp'] / f'splits_{key}'
    out = check(run_tool('tools/reid_splits.py', cfg, '--splits', '0-1', '--work-dir', work, '--no-validate',
                         timeout=600))
    split_file = Path(data[key]) / ('splits_ilidsvid.json' if key == 'ilids' else 'splits_prid2011.json')
    assert f'person splits [0, 1] of {split_file}' in out
    for split in (0, 1):
        assert f'train_dataloader.dataset.split_id={split}' in out
        assert (work / f'split{split}' / 'epoch_1.pth').is_file()
    persons = json.loads(split_file.read_text())
    # each split tested on its own test persons: the tested identities are that split's
    assert persons[0]['test'] != persons[1]['test']
    summary = json.loads((work / 'splits_summary.json').read_text())
    (row,) = summary['rows']
    assert row['splits'] == [0, 1] and len(row['runs']) == 2
    assert set(row['ours']) == {'mAP', 'rank1', 'rank5', 'rank10', 'rank20'} and set(row['std']) == set(row['ours'])
    assert all(0 <= v <= 100 for v in row['ours'].values())
    assert row['ours']['mAP'] == pytest.approx(sum(r['metrics']['mAP'] for r in row['runs']) / 2)
    assert '(n=2, splits 0,1)' in (work / 'splits_summary.md').read_text()
    res = check(run_tool('tools/analysis/result_table.py', str(work / 'split*'), '--paper', '12' if key == 'ilids'
                         else '13', '--out-dir', work / 'table'))
    assert '(n=2, splits 0,1)' in res and ' ± ' in res
    # --resume: both splits are tested already, nothing runs again
    again = check(run_tool('tools/reid_splits.py', cfg, '--splits', '0-1', '--work-dir', work, '--resume'))
    assert again.count('tested already') == 2 and 'tools/train.py' not in again
