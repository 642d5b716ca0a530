"""Each tools/analysis script end to end on a tiny PreResNet-20 + SNL (CIFAR-format data and a checkpoint written by
the test), its JSON numbers checked. The tools run in-process through their ``main(argv)`` (what the scripts call);
one subprocess checks that every script answers ``--help``."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests'))  # for fixtures (see fixtures/datasets.py)
from fixtures.datasets import write_cifar10  # noqa: E402

pytestmark = pytest.mark.slow
CFG = ROOT / 'configs' / 'classification' / 'preresnet' / 'preresnet20-snl_1xb128-300e_cifar10.py'
TOOLS = ('stable_hypothesis', 'weight_spectrum', 'feature_maps', 'complexity', 'result_table')


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Tiny CIFAR-10 (6 test images), a config over the real one, and a checkpoint whose block weights are known:
    W_g W2 = Q diag(lam) Q^T."""
    from snl_plugins.analysis.common import load_model
    tmp = tmp_path_factory.mktemp('analysis')
    data = write_cifar10(tmp / 'data', n_train=5, n_test=6)
    cfg = tmp / 'tiny_snl.py'
    cfg.write_text(f"_base_ = ['{CFG}']\ndata_root = '{data}'\n"
                   "test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, "
                   "dataset=dict(data_root=data_root))\nval_dataloader = test_dataloader\n")
    torch.manual_seed(0)
    model, _ = load_model(str(cfg))
    block = model.model.layer1.snl_after_1
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(16, 8, dtype=torch.float64, generator=g))
    lam = torch.tensor([2.0, 1.0, 0.75, 0.5, -0.3, -0.6, -1.2, -3.0], dtype=torch.float64)
    with torch.no_grad():
        block.g.weight.copy_(q.t().reshape(8, 16, 1, 1))  # W_g = g.weight^T = Q
        block.w2.weight.copy_((torch.diag(lam) @ q.t()).t().reshape(16, 8, 1, 1))  # W = w2.weight^T = diag(lam) Q^T
        block.norm.weight.fill_(1.0)  # the block is not the identity: its response shows
    ckpt = tmp / 'snl.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return dict(tmp=tmp, cfg=str(cfg), ckpt=str(ckpt), lam=lam, model=model)


def test_every_script_answers_help():
    code = ('import runpy, sys\nfor t in sys.argv[1:]:\n    sys.argv = [t, "--help"]\n    try:\n'
            '        runpy.run_path(t, run_name="__main__")\n    except SystemExit as e:\n'
            '        assert e.code == 0, (t, e.code)\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]),
               OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', code] + [f'tools/analysis/{t}.py' for t in TOOLS], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('usage:') == len(TOOLS)
    for words in ('A^2, A^3, A^4', 'W~', 'affinity row', 'get_model_complexity_info', '--paper'):
        assert words in ' '.join(proc.stdout.split()), words


def test_stable_hypothesis(tiny, tmp_path):
    from snl_plugins.analysis import stability
    out = stability.main([tiny['cfg'], tiny['ckpt'], '--num-samples', '5', '--out-dir', str(tmp_path),
                          '--no-progress'])
    assert (tmp_path / 'stable_hypothesis.png').stat().st_size > 0
    res = json.loads((tmp_path / 'stable_hypothesis.json').read_text())
    assert res == json.loads(json.dumps(out))
    (name, block), = res['blocks'].items()
    assert name == 'model.layer1.snl_after_1' and block['type'] == 'SNL'
    assert block['forms'] == ['factorised'] and block['methods'] == ['lowrank'] and block['all_entries']
    assert block['inputs'] == 5 and block['matrices'] == 5 and block['shapes_per_sample'] == [[1024, 1024]]
    assert block['rows_counted'] == 5 * 1024
    hist = block['histogram']
    for k in ('A^1', 'A^2', 'A^3', 'A^4'):
        assert sum(hist['counts'][k]) == hist['entries'][k] == 5 * 1024 * 1024
    gap = block['idempotency_gap']
    assert gap['count'] == 5 and len(gap['per_sample']) == 5 and 0 <= gap['min'] <= gap['max']
    # the gap of the first input, from the affinity the block itself recorded, formed densely here
    from snl_plugins import capture_affinities
    from snl_plugins.analysis.common import build_loader, forward_batch, load_model
    model, cfg = load_model(tiny['cfg'], tiny['ckpt'])
    with capture_affinities(model) as rec:
        forward_batch(model, next(iter(build_loader(cfg, 'test'))))
    a = rec[name][0].to_dense()[0].double()
    expected = float(torch.linalg.matrix_norm(a @ a - a) / torch.linalg.matrix_norm(a))
    assert gap['per_sample'][0] == pytest.approx(expected, rel=1e-4)
    # rows sampled when N x N is not to be formed
    out = stability.main([tiny['cfg'], tiny['ckpt'], '--num-samples', '2', '--max-entries', '1000', '--num-rows',
                          '7', '--scale', 'linear', '--bins', '10', '--out-dir', str(tmp_path / 's'),
                          '--no-progress', '--block', 'snl'])
    block = out['blocks'][name]
    assert block['methods'] == ['lowrank'] and not block['all_entries'] and block['rows_counted'] == 2 * 7
    assert all(sum(c) == 2 * 7 * 1024 for c in block['histogram']['counts'].values())
    assert block['idempotency_gap']['per_sample'][0] == pytest.approx(expected, rel=1e-4)  # still exact


def test_weight_spectrum(tiny, tmp_path):
    from snl_plugins.analysis import spectrum
    spectrum.main(['--model', tiny['cfg'], tiny['ckpt'], '--model', tiny['cfg'], tiny['ckpt'], '--label', 'a',
                   '--label', 'b', '-k', '8', '--out-dir', str(tmp_path), '--no-progress'])
    res = json.loads((tmp_path / 'weight_spectrum.json').read_text())
    assert (tmp_path / 'weight_spectrum.png').stat().st_size > 0
    assert [r['label'] for r in res['runs']] == ['a', 'b']
    for run in res['runs']:
        (entry,) = run['blocks']
        assert entry['type'] == 'SNL' and entry['shape'] == [16, 16]
        assert entry['eigenvalues'] == pytest.approx(sorted(tiny['lam'].tolist(), reverse=True), abs=1e-5)
        assert (entry['positive'], entry['negative']) == (4, 4)


def test_feature_maps(tiny, tmp_path):
    from snl_plugins.analysis import maps
    maps.main(['--model', tiny['cfg'], tiny['ckpt'], '--model', tiny['cfg'], tiny['ckpt'], '--indices', '0', '3',
               '--query', '0.25', '0.75', '--out-dir', str(tmp_path), '--no-progress'])
    res = json.loads((tmp_path / 'feature_maps.json').read_text())
    assert (tmp_path / 'feature_maps.png').stat().st_size > 0
    assert res['inputs'] == ['test[0]', 'test[3]'] and len(res['runs']) == 2
    run = res['runs'][0]
    assert run['type'] == 'SNL' and run['block_spatial'] == [32, 32] and run['query'] == [8, 24]
    # the affinity row is row 8 * 32 + 24 of the affinity the block used on that input
    from snl_plugins import capture_affinities
    from snl_plugins.analysis.common import build_loader, forward_batch, load_model
    model, cfg = load_model(tiny['cfg'], tiny['ckpt'])
    loader = build_loader(cfg, 'test')
    batch = loader.collate_fn([loader.dataset[0], loader.dataset[3]])
    with capture_affinities(model) as rec:
        forward_batch(model, batch)
    dense = rec['model.layer1.snl_after_1'][0].to_dense()
    for b, entry in enumerate(run['maps']):
        row = torch.tensor(entry['affinity_row'])
        assert row.shape == (32, 32) and len(entry['response']) == 32
        assert torch.allclose(row.flatten(), dense[b, 8 * 32 + 24].float(), atol=1e-6)
        assert entry['response_stats']['max'] >= entry['response_stats']['min'] >= 0
    assert res['runs'][1]['maps'][1]['response'] == run['maps'][1]['response']  # same checkpoint, same maps


def test_complexity(tiny, tmp_path):
    from snl_plugins.analysis import complexity
    complexity.main(['--channels', '16', '--size', '8', '8', '--configs', tiny['cfg'], '--out-dir', str(tmp_path),
                     '--no-progress'])
    res = json.loads((tmp_path / 'complexity.json').read_text())
    md = (tmp_path / 'complexity.md').read_text()
    assert (tmp_path / 'complexity.png').stat().st_size > 0
    blocks = {r['name']: r for r in res['blocks']}
    for name in ('SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL', 'SP3 gSNL'):
        assert f'| {name} |' in md
    snl = blocks['SNL factorised']
    assert snl['params'] == 3 * 16 * 8 + 2 * 8 * 16 + 2 * 16  # phi, psi, g; w1, w2; BN
    assert not snl['unseen_ops'] and snl['missed_by_counter'] == 0 and snl['total_with_unseen'] == snl['flops']
    nl = blocks['NL']  # the fused softmax path: the counter cannot see scaled_dot_product_attention
    assert 'aten::scaled_dot_product_attention' in nl['unseen_ops']
    assert nl['missed_by_counter'] == nl['analytic_affinity_total'] == 64 * 64 * (8 + 8)
    assert nl['total_with_unseen'] == nl['flops'] + nl['missed_by_counter']
    # the dense path does the same products where the counter sees them: it counts them itself
    assert blocks['NL dense']['flops'] == pytest.approx(nl['total_with_unseen'], rel=0.01)
    (model_row,) = res['models']
    assert model_row['params'] == sum(p.numel() for p in tiny['model'].parameters())
    assert model_row['analytic'][0]['form'] == 'factorised'


def _fake_work_dir(root: Path, name: str, test=None, vals=()):
    wd = root / name
    (wd / f'{name}.py').parent.mkdir(parents=True)
    (wd / f'{name}.py').write_text('# config copy\n')
    if vals:
        vis = wd / '20240101_000000' / 'vis_data'
        vis.mkdir(parents=True)
        lines = [{'lr': 0.1, 'loss': 2.0, 'epoch': 1, 'iter': 5, 'step': 5}]
        lines += [dict(v, data_time=0.01, time=0.1, step=i + 1) for i, v in enumerate(vals)]
        (vis / 'scalars.json').write_text('\n'.join(json.dumps(x) for x in lines) + '\n')
    if test:
        d = wd / '20240102_000000'
        d.mkdir()
        (d / '20240102_000000.json').write_text(json.dumps(dict(test, data_time=0.01, time=0.1)))
    return wd


def test_result_table(tmp_path):
    from snl_plugins.analysis import tables
    base = _fake_work_dir(tmp_path, 'preresnet56_1xb128-300e_cifar100',
                          test={'accuracy/top1': 75.0, 'accuracy/top5': 93.5},
                          vals=[{'accuracy/top1': 70.0, 'accuracy/top5': 90.0}])
    snl = _fake_work_dir(tmp_path, 'preresnet56-snl_1xb128-300e_cifar100',
                         vals=[{'accuracy/top1': 76.5, 'accuracy/top5': 94.0},
                               {'accuracy/top1': 76.0, 'accuracy/top5': 94.5}])
    out = tmp_path / 'out'
    tables.main([str(base), str(snl), '--out-dir', str(out)])
    res = json.loads((out / 'result_table.json').read_text())
    rows = [(r['setting'], r['model'], r['type'], r['ours']) for r in res['rows']]
    assert rows == [('-', 'PR-56', 'baseline', {'top1': 75.0, 'top5': 93.5}),  # the test run wins over validation
                    ('-', '+ *SNL', 'SNL', {'top1': 76.0, 'top5': 94.5})]  # the last validation
    assert res['metrics'] == ['top1', 'top5']
    assert (out / 'result_table.md').read_text().splitlines()[2] == '| - | PR-56 | 75.00 | 93.50 |'
    # best validation, and the paper's Table 2 beside ours
    tables.main([str(base), str(snl), '--paper', '2', '--source', 'best', '--out-dir', str(out)])
    res = json.loads((out / 'result_table_2.json').read_text())
    assert res['citation'].startswith('Table 2:') and len(res['rows']) == 19
    got = {(r['setting'], r['type']): r for r in res['rows']}
    assert got[('-', 'baseline')]['ours'] == {'top1': 70.0, 'top5': 90.0}
    assert got[('-', 'baseline')]['paper'] == {'top1': 75.33, 'top5': 93.97}
    assert got[('Sub 2', 'SNL')]['ours'] == {'top1': 76.5, 'top5': 94.0}
    assert got[('Sub 2', 'SNL')]['paper'] == {'top1': 76.41, 'top5': 94.38}
    assert got[('Sub 1', 'SNL')]['ours'] == {} and got[('Sub 1', 'SNL')]['paper']['top1'] == 76.34
    md = (out / 'result_table_2.md').read_text()
    assert '| Sub 2 | + NL | - | 75.31 | - | 92.84 |' in md and '|  | + *SNL | 76.50 | 76.41 | 94.00 | 94.38 |' in md
    assert (out / 'result_table_2.png').stat().st_size > 0
    # segmentation metrics against a table in fractions; an explicit label
    seg = _fake_work_dir(tmp_path, 'deeplab_run', test={'aAcc': 93.0, 'mIoU': 72.5, 'mAcc': 80.0, 'fwIoU': 87.0})
    res = tables.build_table([str(seg)], paper='10', labels=[f'{seg}=-:gSNL'])
    row = next(r for r in res['rows'] if r['type'] == 'gSNL')
    assert row['ours'] == {'mIoU': 72.5, 'fwIoU': 87.0, 'aAcc': 93.0}
    assert row['paper'] == pytest.approx({'mIoU': 72.7, 'fwIoU': 87.5, 'aAcc': 92.9})
    with pytest.raises(FileNotFoundError, match='no metrics'):
        tables.read_work_dir(str(_fake_work_dir(tmp_path, 'empty_run')))
