"""The 10-split protocol's pieces (snl_plugins.reid.splits) and the averaged CMC / mAP of result_table; the whole
command on tiny data sets is in tests/e2e/test_reid_tools.py."""
import json
from pathlib import Path

import pytest
from mmengine.config import Config

from fixtures.reid import write_ilidsvid, write_mars, write_prid2011
from snl_plugins.analysis import tables
from snl_plugins.reid import splits

ROOT = Path(__file__).resolve().parents[2]
CFG_DIR = ROOT / 'configs' / 'reid'


def test_split_ids_parse_and_select_every_loader():
    assert splits.parse_split_ids('0-9') == list(range(10))
    assert splits.parse_split_ids('0-2,7, 1') == [0, 1, 2, 7]
    for bad in ('', '3-1', 'a', '0-', '1;2'):
        with pytest.raises(ValueError, match='neither a split number nor a range'):
            splits.parse_split_ids(bad)
    assert splits.split_options(4) == ['train_dataloader.dataset.split_id=4', 'val_dataloader.dataset.split_id=4',
                                       'test_dataloader.dataset.split_id=4']
    cfg = Config.fromfile(str(CFG_DIR / 'rtmtp_r50_1xp8k4-800e_ilidsvid.py'))
    cfg.merge_from_dict({o.split('=')[0]: int(o.split('=')[1]) for o in splits.split_options(4)})
    assert {cfg[k].dataset.split_id for k in splits.LOADERS} == {4}


def _cfg(name, data_root, **dataset):
    cfg = Config.fromfile(str(CFG_DIR / name))
    cfg.train_dataloader.dataset.update(data_root=data_root, **dataset)
    return cfg


def test_split_file_made_once_as_the_data_sets_read_it(tmp_path):
    root = write_ilidsvid(tmp_path / 'ilids')
    path = splits.prepare_split_file(_cfg('rtmtp_r50_1xp8k4-800e_ilidsvid.py', root), [0, 1, 9])
    assert path == str(Path(root) / 'splits_ilidsvid.json')
    written = json.loads(Path(path).read_text())
    assert len(written) == 10  # torchreid's format: 10 x {"train": [...], "test": [...]}, halves of the 6 persons
    assert all(len(s['train']) == len(s['test']) == 3 and not set(s['train']) & set(s['test']) for s in written)
    assert len({tuple(s['train']) for s in written}) > 1  # random permutations, not one split repeated
    # seeded: a fresh copy of the data gets the same splits; read back, not remade
    other = write_ilidsvid(tmp_path / 'other')
    splits.prepare_split_file(_cfg('rtmtp_r50_1xp8k4-800e_ilidsvid.py', other), [0])
    assert json.loads((Path(other) / 'splits_ilidsvid.json').read_text()) == written
    Path(path).write_text(json.dumps(written[:3]))
    with pytest.raises(ValueError, match=r'splits_ilidsvid.json: holds 3 splits, split_id=5 asked'):
        splits.prepare_split_file(_cfg('rtmtp_r50_1xp8k4-800e_ilidsvid.py', root), [0, 5])
    with pytest.raises(ValueError, match=r'split_id must be in \[0, 10\), got 10'):
        splits.prepare_split_file(_cfg('rtmtp_r50_1xp8k4-800e_ilidsvid.py', root), [10])


def test_split_file_of_prid2011_and_none_for_mars(tmp_path):
    root = write_prid2011(tmp_path / 'prid', min_frames=4)
    path = splits.prepare_split_file(_cfg('rtmta_r50_1xp8k4-800e_prid2011.py', root, min_frames=4), [0, 1])
    written = json.loads(Path(path).read_text())
    assert len(written) == 10 and all(len(s['train']) == len(s['test']) == 3 for s in written)
    assert all('person_0002' not in s['train'] + s['test'] for s in written)  # too short in cam_b
    mars = write_mars(tmp_path / 'mars')
    with pytest.raises(ValueError, match="data set of this config is 'Mars', which has no person splits"):
        splits.prepare_split_file(_cfg('rtmtp_r50_1xp8k4-800e_mars.py', mars), [0])


def test_checkpoint_choice_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='no last checkpoint in .*did training finish'):
        splits.find_checkpoint(str(tmp_path), 'last')
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert splits.find_checkpoint(str(tmp_path), 'last') == str(tmp_path / 'epoch_1.pth')
    with pytest.raises(FileNotFoundError, match=r'expected one best_\*.pth .*found 0'):
        splits.find_checkpoint(str(tmp_path), 'best')
    (tmp_path / 'best_reid_mAP_epoch_1.pth').write_bytes(b'')
    assert splits.find_checkpoint(str(tmp_path), 'best').endswith('best_reid_mAP_epoch_1.pth')


def _fake_split_run(parent: Path, name: str, split: int, metrics: dict) -> str:
    """A split's work dir as tools/reid_splits.py leaves it (config copy + one test run)."""
    wd = parent / f'split{split}'
    run = wd / '20240101_000000'
    run.mkdir(parents=True)
    (wd / f'{name}.py').write_text('# config copy\n')
    (run / '20240101_000000.json').write_text(json.dumps(metrics))
    return str(wd)


def test_result_table_averages_splits_with_std(tmp_path):
    name = 'rtmtp_r50-snl_1xp8k4-800e_ilidsvid'
    values = [(0.80, 0.70, 0.90), (0.84, 0.74, 0.92), (0.82, 0.78, 0.97)]
    dirs = [_fake_split_run(tmp_path / name, name, i, {'reid/mAP': m, 'reid/rank1': r1, 'reid/rank5': r5,
                                                         'reid/rank10': 1.0, 'reid/rank20': 1.0})
            for i, (m, r1, r5) in enumerate(values)]
    res = tables.main([str(tmp_path / name / 'split*'), '--paper', '12', '--out-dir', str(tmp_path / 'out')])
    row = next(r for r in res['rows'] if r['runs'])
    assert (row['setting'], row['type'], row['splits']) == ('RTMtp', 'SNL', [0, 1, 2])
    assert row['ours']['mAP'] == pytest.approx(82.0) and row['std']['mAP'] == pytest.approx(2.0)  # sample std
    assert row['ours']['rank1'] == pytest.approx(74.0) and row['std']['rank1'] == pytest.approx(4.0)
    assert row['ours']['rank5'] == pytest.approx(93.0) and row['std']['rank10'] == 0.0
    md = (tmp_path / 'out' / 'result_table_12.md').read_text()
    assert '+ *SNL (n=3, splits 0,1,2) | 82.00 ± 2.00 | 84.80 | 74.00 ± 4.00 | 76.60 |' in md
    assert 'mean ± sample standard deviation' in md
    # without the paper's layout: the whole CMC
    plain = tables.build_table(dirs)
    assert plain['metrics'] == ['mAP', 'rank1', 'rank5', 'rank10', 'rank20']
    # one split twice in a row would weigh it double
    again = _fake_split_run(tmp_path / 'again', name, 1, {'reid/mAP': 0.5, 'reid/rank1': 0.5})
    with pytest.raises(ValueError, match=r'person split\(s\) \[1\] appear more than once in one row'):
        tables.build_table(dirs + [again])
