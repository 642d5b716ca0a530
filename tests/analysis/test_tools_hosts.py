"""Every analysis tool end to end on a model of each family our configs build beyond classification (video:
I3D-R50, P3D-R50 and VTN-R34 + SNL; segmentation: DeepLabV3-R50 + SNL; re-ID: RTMta + SNL over the clip and RTMtp +
SNL per frame), over tiny data sets and checkpoints written here (``analysis_hosts.py``), its JSON numbers checked.
The tools run in-process through their ``main(argv)``; the data and checkpoints are shared per family (module
scope)."""
import glob
import json
import math

import pytest
import torch

from analysis_hosts import reid_family, segmentation_family, video_family

pytest.importorskip('mmaction')
pytest.importorskip('mmseg')
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return video_family(tmp_path_factory.mktemp('video'))


@pytest.fixture(scope='module')
def seg(tmp_path_factory):
    return segmentation_family(tmp_path_factory.mktemp('seg'))


@pytest.fixture(scope='module')
def reid(tmp_path_factory):
    return reid_family(tmp_path_factory.mktemp('reid'))


# host -> (family fixture, config key, checkpoint key, the block, its channels C1, its grid per affinity matrix, what
# a matrix is per input)
HOSTS = {
    'i3d': ('video', 'cfg', 'ckpt', 'backbone.layer3.snl_before_5', 1024, [2, 4, 4], 'clip'),
    'p3d': ('video', 'p3d_cfg', 'p3d_ckpt', 'backbone.layer2.snl_before_3', 512, [4, 8, 8], 'clip'),
    'deeplabv3': ('seg', 'cfg', 'ckpt', 'backbone.layer3.snl_before_5', 1024, None, 'image'),
    'rtmta_snl3d': ('reid', 'ta3d', None, 'backbone.layer3.clipnonlocal_before_1.block', 256, [3, 2, 1], 'clip'),
    'rtmtp_snl': ('reid', 'tp2d', None, 'backbone.layer3.snl_before_1', 256, [2, 1], 'frame'),
}


def host(request, name):
    family, cfg_key, ckpt_key, block, channels, grid, per = HOSTS[name]
    data = request.getfixturevalue(family)
    if ckpt_key is None:  # re-ID: one entry per model
        cfg, ckpt = data[cfg_key]['cfg'], data[cfg_key]['ckpt']
    else:
        cfg, ckpt = data[cfg_key], data[ckpt_key]
    return dict(cfg=cfg, ckpt=ckpt, block=block, channels=channels, grid=grid, per=per, data=data)


def recorded_affinities(cfg, ckpt, block, batch=None):
    """The affinities ``block`` recorded in one forward of the split's first batch (or ``batch``)."""
    from snl_plugins import capture_affinities
    from snl_plugins.analysis.common import build_loader, forward_batch, load_model
    model, config = load_model(cfg, ckpt)
    with capture_affinities(model) as records:
        forward_batch(model, batch if batch is not None else next(iter(build_loader(config, 'test'))))
    return records[block]


@pytest.mark.parametrize('name', list(HOSTS))
def test_stable_hypothesis(request, name, tmp_path):
    from snl_plugins.analysis import stability
    h = host(request, name)
    out = stability.main([h['cfg'], h['ckpt'], '--num-samples', '2', '--out-dir', str(tmp_path), '--no-progress'])
    assert json.loads((tmp_path / 'stable_hypothesis.json').read_text()) == json.loads(json.dumps(out))
    assert (tmp_path / 'stable_hypothesis.png').stat().st_size > 0
    (block_name, res), = out['blocks'].items()
    assert block_name == h['block'] and res['type'] == 'SNL' and res['inputs'] == 2
    assert res['all_entries'] and res['methods'] == ['dense']
    if h['grid'] is not None:  # the affinity is over every position of the block's grid: T x H x W for clips
        n = math.prod(h['grid'])
        assert res['shapes_per_sample'] == [[n, n]] and res['rows_counted'] == res['matrices'] * n
        entries = res['matrices'] * n * n
    else:  # segmentation: whole images of two sizes, a matrix of each
        sizes = [n for n, _ in res['shapes_per_sample']]
        assert len(sizes) == 2 and res['rows_counted'] == sum(sizes)
        entries = sum(n * n for n in sizes)
    for k in ('A^1', 'A^2', 'A^3', 'A^4'):
        assert sum(res['histogram']['counts'][k]) == res['histogram']['entries'][k] == entries
    gap = res['idempotency_gap']
    assert gap['count'] == len(gap['per_sample']) == res['matrices']
    assert all(math.isfinite(g) and g >= 0 for g in gap['per_sample'])
    assert res['matrices_per_input'] == res['matrices'] / 2
    if name in ('i3d', 'p3d'):
        assert res['matrices'] == 2 * 2  # 2 test clips per video
    elif name == 'deeplabv3':
        assert res['matrices'] == 2
    # the first gap is the one of the affinity the block itself used, formed densely here
    a = recorded_affinities(h['cfg'], h['ckpt'], h['block'])[0].to_dense()[0].double()
    expected = float(torch.linalg.matrix_norm(a @ a - a) / torch.linalg.matrix_norm(a))
    assert gap['per_sample'][0] == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_stable_hypothesis_samples_rows_of_a_video_affinity(request, tmp_path):
    """N x N of a T x H x W affinity not formed: sampled rows of A^k, the gap from those rows."""
    from snl_plugins.analysis import stability
    h = host(request, 'p3d')
    out = stability.main([h['cfg'], h['ckpt'], '--num-samples', '1', '--max-entries', '1000', '--num-rows', '5',
                          '--out-dir', str(tmp_path), '--no-progress'])
    res = out['blocks'][h['block']]
    assert res['methods'] == ['sampled_rows'] and not res['all_entries'] and res['rows_counted'] == res['matrices'] * 5
    assert all(sum(c) == res['matrices'] * 5 * 256 for c in res['histogram']['counts'].values())
    assert all(math.isfinite(g) and g >= 0 for g in res['idempotency_gap']['per_sample'])


def test_weight_spectrum_every_family(request, tmp_path):
    from snl_plugins.analysis import spectrum
    argv = []
    for name in HOSTS:
        h = host(request, name)
        argv += ['--model', h['cfg'], h['ckpt'], '--label', name]
    out = spectrum.main(argv + ['-k', '6', '--out-dir', str(tmp_path), '--no-progress'])
    assert json.loads((tmp_path / 'weight_spectrum.json').read_text()) == json.loads(json.dumps(out))
    assert (tmp_path / 'weight_spectrum.png').stat().st_size > 0
    assert [r['label'] for r in out['runs']] == list(HOSTS)
    for run, name in zip(out['runs'], HOSTS):
        h = host(request, name)
        (entry,) = run['blocks']
        c1 = h['channels']
        assert entry['block'] == h['block'] and entry['type'] == 'SNL' and entry['shape'] == [c1, c1]
        assert len(entry['eigenvalues']) == 6 and entry['positive'] + entry['negative'] + entry['zero'] == c1
        # W_g = g.weight^T, W = w2.weight^T from the checkpoint; the top 6 by magnitude
        state = torch.load(h['ckpt'], map_location='cpu', weights_only=False)['state_dict']
        wg = state[h['block'] + '.g.weight'].flatten(1).t().double()
        w = state[h['block'] + '.w2.weight'].flatten(1).t().double()
        eig = torch.linalg.eigvalsh((wg @ w + (wg @ w).t()) / 2)
        top = sorted(eig[eig.abs().argsort(descending=True)[:6]].tolist(), reverse=True)
        assert entry['eigenvalues'] == pytest.approx(top, abs=1e-6)


@pytest.mark.parametrize('name', list(HOSTS))
def test_feature_maps_of_dataset_samples(request, name, tmp_path):
    from snl_plugins.analysis import maps
    h = host(request, name)
    frames = ['--frames', '0', '2'] if h['per'] != 'image' else []
    out = maps.main(['--model', h['cfg'], h['ckpt'], '--indices', '0', '1', '--query', '0.9', '0.4', '0.6',
                     '--out-dir', str(tmp_path), '--no-progress'] + frames)
    assert json.loads((tmp_path / 'feature_maps.json').read_text()) == json.loads(json.dumps(out))
    assert (tmp_path / 'feature_maps.png').stat().st_size > 0
    (run,) = out['runs']
    assert run['block'] == h['block'] and run['entries_per'] == h['per'] and out['inputs'] == ['test[0]', 'test[1]']
    shown = [(m['input'], m['frame']) for m in run['maps']]
    if h['per'] == 'image':
        assert shown == [('test[0]', None), ('test[1]', None)]
    else:
        assert shown == [('test[0]', 0), ('test[0]', 2), ('test[1]', 0), ('test[1]', 2)]
    for m in run['maps']:
        grid = m['block_spatial']
        h_w = grid[-2:]
        assert [len(m['response']), len(m['response'][0])] == h_w
        assert [len(m['affinity_row']), len(m['affinity_row'][0])] == h_w
        assert m['response_stats']['max'] >= m['response_stats']['min'] >= 0
        if len(grid) == 3:  # (t, y, x) of the query; frame f of 16 (3) input frames lies in block frame f T' // T
            assert m['query'] == [int(0.9 * grid[0]), int(0.4 * grid[1]), int(0.6 * grid[2])]
            assert m['block_frame'] == m['frame'] * grid[0] // (16 if name in ('i3d', 'p3d') else 3)
        else:  # the t of the query has no say on a 2D grid
            assert m['query'] == [int(0.4 * grid[0]), int(0.6 * grid[1])] and m['block_frame'] is None
    if name == 'i3d':  # the shown slice is the block frame's part of the affinity row the block used on clip 0
        from snl_plugins.analysis.common import build_loader, load_model
        _, cfg = load_model(h['cfg'])
        loader = build_loader(cfg, 'test')
        (aff,) = recorded_affinities(h['cfg'], h['ckpt'], h['block'], loader.collate_fn([loader.dataset[1]]))
        t, y, x = run['maps'][2]['query']
        row = aff.to_dense()[0, (t * 4 + y) * 4 + x].view(2, 4, 4)
        assert torch.allclose(torch.tensor(run['maps'][2]['affinity_row']), row[0].float(), atol=1e-6)
        assert run['maps'][2]['affinity_row_sum'] == pytest.approx(float(row.sum()), rel=1e-5)


def test_feature_maps_of_video_files_frame_dirs_and_images(request, tmp_path):
    from snl_plugins.analysis import maps
    i3d, p3d, ta = host(request, 'i3d'), host(request, 'p3d'), host(request, 'rtmta_snl3d')
    video = sorted(glob.glob(f'{i3d["data"]["root"]}/UCF-101/Basketball/*.avi'))[0]
    out = maps.main(['--model', i3d['cfg'], i3d['ckpt'], '--model', p3d['cfg'], p3d['ckpt'], '--videos', video,
                     '--num-frames', '16', '--frames', '0', '15', '--out-dir', str(tmp_path / 'v'), '--no-progress'])
    assert [len(r['maps']) for r in out['runs']] == [2, 2] and out['inputs'] == [video]
    assert [m['block_frame'] for m in out['runs'][1]['maps']] == [0, 3]  # P3D: 4 block frames of 16
    frame_dir = sorted(glob.glob(f'{ta["data"]["root"]}/bbox_test/0002'))[0]
    out = maps.main(['--model', ta['cfg'], ta['ckpt'], '--videos', frame_dir, '--num-frames', '3', '--size', '32',
                     '16', '--frames', '1', '--out-dir', str(tmp_path / 'r'), '--no-progress'])
    (m,) = out['runs'][0]['maps']
    assert m['block_spatial'] == [3, 2, 1] and m['block_frame'] == 1
    seg = host(request, 'deeplabv3')
    image = sorted(glob.glob(f'{seg["data"]["root"]}/JPEGImages/*.jpg'))[0]
    out = maps.main(['--model', seg['cfg'], seg['ckpt'], '--images', image, '--out-dir', str(tmp_path / 's'),
                     '--no-progress'])
    (m,) = out['runs'][0]['maps']
    assert m['frame'] is None and len(m['affinity_row']) == m['block_spatial'][0]
    with pytest.raises(ValueError, match='takes clips x C x T x H x W .* give it a video'):
        maps.main(['--model', i3d['cfg'], i3d['ckpt'], '--images', image, '--out-dir', str(tmp_path / 'x'),
                   '--no-progress'])


def test_complexity_every_family(request, tmp_path):
    from snl_plugins.analysis import complexity
    from snl_plugins.analysis.common import load_model
    shapes = {'video': ['3', '16', '64', '64'], 'image': ['3', '64', '64'], 'tracklet': ['3', '3', '32', '16']}
    names = {'video': ['i3d', 'p3d'], 'image': ['deeplabv3'], 'tracklet': ['rtmta_snl3d', 'rtmtp_snl']}
    for layout, shape in shapes.items():
        cfgs = [host(request, n)['cfg'] for n in names[layout]]
        blocks = ['--channels', '16', '--size', '2', '4', '4'] if layout == 'video' else ['--no-blocks']
        out = complexity.main(blocks + ['--configs', *cfgs, '--input-shape', *shape,
                                        '--out-dir', str(tmp_path / layout), '--no-progress'])
        assert json.loads((tmp_path / layout / 'complexity.json').read_text()) == json.loads(json.dumps(out))
        md = (tmp_path / layout / 'complexity.md').read_text()
        batch = [1, 1, *map(int, shape)] if layout == 'video' else [1, *map(int, shape)]
        assert [r['name'] for r in out['models']] == cfgs
        for row, name in zip(out['models'], names[layout]):
            h = host(request, name)
            model, _ = load_model(h['cfg'])
            assert row['layout'] == layout and row['input'] == batch
            assert row['params'] == sum(p.numel() for p in model.parameters())
            assert row['flops'] > 0 and f'| {h["cfg"]} | {"x".join(map(str, batch))} |' in md
            (block,) = row['analytic']
            assert block['block'] == h['block'] and block['total'] > 0
            assert row['total_with_unseen'] == row['flops'] + row['missed_by_counter']
        if layout == 'video':  # 3D blocks at 2 x 4 x 4: NL's fused attention is what the counter cannot see
            rows = {r['name']: r for r in out['blocks']}
            assert rows['SNL']['input'] == [1, 16, 2, 4, 4] and not rows['SNL']['unseen_ops']
            assert 'aten::scaled_dot_product_attention' in rows['NL']['unseen_ops']
            assert rows['NL']['missed_by_counter'] == 32 * 32 * (8 + 8)
    with pytest.raises(ValueError, match='--input-shape wants 4 numbers'):
        complexity.main(['--no-blocks', '--configs', host(request, 'i3d')['cfg'], '--input-shape', '3', '64', '64',
                         '--out-dir', str(tmp_path / 'bad'), '--no-progress'])


def test_every_tool_on_a_block_in_a_video_head(request, tmp_path):
    """VTN + SNL: a 2D recognizer whose blocks run over time in its head (mmaction2's tensor-mode forward stops after
    the backbone unless asked for the head)."""
    from snl_plugins.analysis import complexity, maps, spectrum, stability
    from snl_plugins.analysis.common import load_model
    video = request.getfixturevalue('video')
    cfg, ckpt = video['vtn_cfg'], video['vtn_ckpt']
    layers = [f'cls_head.encoder.layers.{i}.attention' for i in range(4)]
    out = stability.main([cfg, ckpt, '--num-samples', '2', '--out-dir', str(tmp_path), '--no-progress'])
    assert list(out['blocks']) == layers
    for res in out['blocks'].values():  # a 4 x 4 affinity over the 4 frames of each of 2 clips per video
        assert res['shapes_per_sample'] == [[4, 4]] and res['matrices'] == 2 * 2
        assert all(sum(c) == 4 * 16 for c in res['histogram']['counts'].values())
        assert all(math.isfinite(g) and g >= 0 for g in res['idempotency_gap']['per_sample'])
    out = spectrum.main(['--model', cfg, ckpt, '-k', '4', '--out-dir', str(tmp_path), '--no-progress'])
    assert [e['block'] for e in out['runs'][0]['blocks']] == layers
    assert all(e['shape'] == [512, 512] and len(e['eigenvalues']) == 4 for e in out['runs'][0]['blocks'])
    out = complexity.main(['--no-blocks', '--configs', cfg, '--input-shape', '4', '3', '32', '32', '--out-dir',
                           str(tmp_path), '--no-progress'])
    (row,) = out['models']
    model, _ = load_model(cfg)
    assert row['layout'] == 'frames' and row['input'] == [1, 4, 3, 32, 32]
    assert row['params'] == sum(p.numel() for p in model.parameters())
    assert [a['block'] for a in row['analytic']] == layers and all(a['shape'] == [1, 4, 4] for a in row['analytic'])
    with pytest.raises(ValueError, match='runs over a sequence of 4 .* no image positions'):
        maps.main(['--model', cfg, ckpt, '--indices', '0', '--out-dir', str(tmp_path), '--no-progress'])


def _test_run(cfg, ckpt, work_dir):
    """tools/test.py in-process: a real work dir with the metrics as the family logs them."""
    from snl_plugins.apis import test
    return test([cfg, ckpt, '--work-dir', str(work_dir)])


def _fake_test_run(root, name, metrics):
    """A work dir as tools/test.py leaves it, for a config we did not run."""
    run = root / name / '20240102_000000'
    run.mkdir(parents=True)
    (root / name / f'{name}.py').write_text('# config copy\n')
    (run / '20240102_000000.json').write_text(json.dumps(dict(metrics, data_time=0.01, time=0.1)))
    return str(root / name)


def test_result_tables_every_family(request, tmp_path):
    from snl_plugins.analysis import tables
    # video: mmaction2's acc/top1 and acc/top5 are fractions; the table is in percent (Table 8: I3D on UCF-101)
    i3d = host(request, 'i3d')
    snl = tmp_path / 'i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb'
    logged = _test_run(i3d['cfg'], i3d['ckpt'], snl)
    assert set(logged) == {'acc/top1', 'acc/top5', 'acc/mean1'}
    base = _fake_test_run(tmp_path, 'i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb',
                          {'acc/top1': 0.5, 'acc/top5': 0.75, 'acc/mean1': 0.5})
    res = tables.main([base, str(snl), '--paper', '8', '--out-dir', str(tmp_path / 'video')])
    got = {r['type']: r for r in res['rows']}
    assert got['baseline']['ours'] == {'top1': 50.0, 'top5': 75.0}
    assert got['SNL']['ours'] == pytest.approx({'top1': 100 * logged['acc/top1'], 'top5': 100 * logged['acc/top5']})
    assert got['SNL']['paper']['top1'] > 80 and got['NL']['ours'] == {} and len(res['rows']) == 7
    # segmentation: mmseg's percentages (Table 10, paper values in fractions there)
    seg = host(request, 'deeplabv3')
    snl = tmp_path / 'deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512'
    logged = _test_run(seg['cfg'], seg['ckpt'], snl)
    assert {'aAcc', 'mIoU', 'fwIoU'} <= set(logged)
    base = _fake_test_run(tmp_path, 'deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512',
                          {'aAcc': 90.0, 'mIoU': 70.0, 'mAcc': 75.0, 'fwIoU': 85.0})
    res = tables.main([base, str(snl), '--paper', '10', '--out-dir', str(tmp_path / 'seg')])
    got = {r['type']: r for r in res['rows']}
    assert res['metrics'] == ['mIoU', 'fwIoU', 'aAcc']
    assert got['baseline']['ours'] == {'mIoU': 70.0, 'fwIoU': 85.0, 'aAcc': 90.0}
    assert got['SNL']['ours'] == pytest.approx({k: float(logged[k]) for k in ('mIoU', 'fwIoU', 'aAcc')})
    assert 0 < got['SNL']['paper']['mIoU'] <= 100
    # re-ID: reid/mAP and reid/rank1 are fractions; settings by backbone; the 3D reading is a row of its own
    ta = host(request, 'rtmta_snl3d')
    snl3d = tmp_path / 'rtmta_r50-snl3d_1xp8k4-800e_mars'
    logged = _test_run(ta['cfg'], ta['ckpt'], snl3d)
    assert {'reid/mAP', 'reid/rank1'} <= set(logged)
    dirs = [_fake_test_run(tmp_path, name, {'reid/mAP': m, 'reid/rank1': r, 'reid/rank5': 1.0})
            for name, m, r in (('rtmta_r50_1xp8k4-800e_mars', 0.7, 0.8), ('rtmta_r50-snl_1xp8k4-800e_mars', 0.75, 0.85),
                               ('rtmtp_r50-nl_1xp8k4-800e_mars', 0.72, 0.81))] + [str(snl3d)]
    res = tables.main(dirs + ['--paper', '11', '--out-dir', str(tmp_path / 'reid')])
    rows = [(r['setting'], r['model'], {k: v for k, v in r['ours'].items() if k in ('mAP', 'rank1')})
            for r in res['rows']]
    assert res['rows'][0]['ours']['rank5'] == 100.0  # the CMC is read at ranks 5, 10, 20 too
    assert set(res['rows'][3]['ours']) == {'mAP', 'rank1', 'rank5', 'rank10', 'rank20'}
    assert rows[:4] == [('RTMta', 'RTMta', {'mAP': 70.0, 'rank1': 80.0}), ('RTMta', '+ NL', {}),
                        ('RTMta', '+ *SNL', {'mAP': 75.0, 'rank1': 85.0}),
                        ('RTMta', '+ *SNL (3D)', pytest.approx({'mAP': 100 * logged['reid/mAP'],
                                                                 'rank1': 100 * logged['reid/rank1']}))]
    assert rows[5] == ('RTMtp', '+ NL', {'mAP': 72.0, 'rank1': 81.0}) and len(rows) == 7
    assert res['rows'][2]['paper'] == res['rows'][3]['paper'] and res['rows'][3]['variant'] == '3d'
    md = (tmp_path / 'reid' / 'result_table_11.md').read_text()
    assert '|  | + *SNL (3D) | ' in md and md.startswith('Paper values from Table 11:')
    # without a paper table: one row per backbone, setting, type and reading
    res = tables.main(dirs + ['--out-dir', str(tmp_path / 'reid_plain')])
    assert [r['model'] for r in res['rows']] == ['RTMta', '+ *SNL', '+ *SNL (3D)', '+ NL']
    assert res['metrics'] == ['mAP', 'rank1', 'rank5', 'rank10', 'rank20']
