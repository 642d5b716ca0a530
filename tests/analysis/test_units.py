"""The analysis maths on matrices with known answers (fast, no model): Appendix B's Chebyshev cycle, hop histograms
and the idempotency gap of exactly idempotent affinities in every form, eigenvalues of a known W~, work-dir parsing,
the paper's numbers, analytic counts."""
import pytest
import torch

from snl_plugins.analysis import spectrum, stability, tables
from snl_plugins.analysis.complexity import affinity_macs
from snl_plugins.ops import Affinity, chebyshev_matrix


def block_averaging(n_blocks=4, size=4, batch=2):
    """A = blockdiag(J / size): symmetric, non-negative, idempotent, every entry exact in floating point; and its
    factors L = R (K x N) with entries 1/2 (size 4), so that A = L^T R."""
    n = n_blocks * size
    ind = torch.zeros(n_blocks, n, dtype=torch.float64)
    for k in range(n_blocks):
        ind[k, k * size:(k + 1) * size] = 1.0
    factor = ind / size ** 0.5
    a = factor.t() @ factor
    return a.expand(batch, n, n).clone(), factor.expand(batch, -1, -1).clone()


def test_chebyshev_cycles_for_an_idempotent_affinity():
    """Appendix B (Eq. 13-14): A^2 = A gives T_k(A) = I, A, 2A - I, A for k % 4 = 0, 1, 2, 3."""
    a, _ = block_averaging(batch=1)
    a = a[0]
    q, _ = torch.linalg.qr(torch.randn(12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    for mat in (a, q @ q.t()):  # a block-averaging and an orthogonal projection
        assert torch.allclose(mat @ mat, mat, atol=1e-12)
        eye = torch.eye(mat.shape[0], dtype=mat.dtype)
        expected = [eye, mat, 2 * mat - eye, mat]
        for k in range(10):
            assert torch.allclose(chebyshev_matrix(mat, k), expected[k % 4], atol=1e-9), k


@pytest.mark.parametrize('form', ['dense', 'factorised', 'fused_softmax'])
def test_idempotent_affinity_histograms_coincide_and_gap_is_zero(form):
    a, factor = block_averaging()
    if form == 'dense':
        aff = Affinity(dense=a)
    elif form == 'factorised':
        aff = Affinity(left=factor, right=factor)
    else:  # softmax of a block-structured score: 0 within a block, -inf-like across: rows = 1/4 in the block
        keys = torch.cat([factor.transpose(1, 2) * 200.0], dim=2)
        aff = Affinity(query=keys, key=keys, scale=1.0)
    assert aff.form == form
    hist = stability.HopHistogram(bins=20, value_range=(1e-3, 1.0))
    gaps, method, full = stability.analyse_affinity(aff, hist)
    assert full and method == ('lowrank' if form == 'factorised' else 'dense')
    d = hist.as_dict()
    counts = list(d['counts'].values())
    assert all(c == counts[0] for c in counts), 'A, A^2, A^3, A^4 histograms differ'
    assert all(sum(c) == 2 * 16 * 16 for c in counts) and set(d['entries'].values()) == {2 * 16 * 16}
    assert max(gaps) < 1e-9 and len(gaps) == 2


def test_histograms_count_every_entry_and_gap_methods_agree():
    g = torch.Generator().manual_seed(1)
    p, q = torch.rand(3, 4, 20, generator=g, dtype=torch.float64), torch.rand(3, 4, 20, generator=g,
                                                                              dtype=torch.float64)
    from snl_plugins.ops import dot_affinity
    fact = dot_affinity(p, q, path='factorised')
    dense = dot_affinity(p, q, path='dense')
    assert fact.form == 'factorised' and dense.form == 'dense'
    h1, h2 = stability.HopHistogram(30), stability.HopHistogram(30)
    g1, m1, _ = stability.analyse_affinity(fact, h1)
    g2, m2, _ = stability.analyse_affinity(dense, h2)
    assert (m1, m2) == ('lowrank', 'dense')
    assert g1 == pytest.approx(g2, rel=1e-9) and min(g1) > 1e-3
    exact = [float(torch.linalg.matrix_norm(x @ x - x) / torch.linalg.matrix_norm(x)) for x in dense.to_dense()]
    assert g2 == pytest.approx(exact, rel=1e-12)
    # every entry lands in a bin, out-of-range ones in the end bins
    for k in (1, 2, 3, 4):
        assert int(h1.counts[k].sum()) == 3 * 20 * 20 == h1.entries[k]
    # too large to form: sampled rows, S rows per matrix, gap estimated from them
    h3 = stability.HopHistogram(30)
    g3, m3, full = stability.analyse_affinity(dense, h3, max_entries=100, num_rows=5)
    assert m3 == 'sampled_rows' and not full and all(h3.entries[k] == 3 * 5 * 20 for k in (1, 2, 3, 4))
    assert all(0 < x < 10 for x in g3)
    # sampled rows of A^k equal the rows of the dense powers
    rows = torch.tensor([0, 7])
    r = stability.affinity_rows(dense, 1, rows)
    a = dense.to_dense()[1]
    assert torch.allclose(stability.rows_times_affinity(dense, 1, r, chunk=3), (a @ a)[rows], atol=1e-12)


def test_non_square_affinity_is_refused():
    aff = Affinity(dense=torch.rand(1, 6, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match='square'):
        stability.analyse_affinity(aff, stability.HopHistogram())


def test_eigenvalues_of_a_known_symmetric_matrix_are_recovered():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(16, 8, dtype=torch.float64, generator=g))  # C1 = 16, Cs = 8
    lam = torch.tensor([3.0, 2.0, 1.5, 0.5, -0.25, -1.0, -2.5, -4.0], dtype=torch.float64)
    wg, w = q, torch.diag(lam) @ q.t()  # W_g W = Q diag(lam) Q^T
    sym = spectrum.symmetric_weight(wg, w)
    top = spectrum.top_eigenvalues(sym, k=8)
    assert top['eigenvalues'] == pytest.approx(sorted(lam.tolist(), reverse=True), abs=1e-10)
    assert (top['positive'], top['negative'], top['zero']) == (4, 4, 8)
    by_value = spectrum.top_eigenvalues(sym, k=3, order='value')
    assert by_value['eigenvalues'] == pytest.approx([3.0, 2.0, 1.5])
    # a non-symmetric product: W~ is its symmetric part
    m = torch.randn(6, 6, dtype=torch.float64, generator=g)
    ev = spectrum.top_eigenvalues(spectrum.symmetric_weight(m, torch.eye(6, dtype=torch.float64)), k=6)
    assert sorted(ev['eigenvalues']) == pytest.approx(torch.linalg.eigvalsh((m + m.t()) / 2).tolist())


def test_grouped_conv_is_expanded_block_diagonally():
    conv = torch.nn.Conv2d(4, 6, 1, groups=2, bias=False)
    dense = spectrum.matrix(conv)  # in x out
    x = torch.randn(1, 4, 1, 1)
    assert torch.allclose(conv(x).flatten(), (x.flatten().double() @ dense).float(), atol=1e-6)


@pytest.mark.parametrize('name, expected', [
    ('preresnet56-snl-sub4_1xb128-300e_cifar100', ('preresnet56', 'SNL', 'sub4', '')),
    ('preresnet56_1xb128-300e_cifar100', ('preresnet56', 'baseline', '', '')),
    ('preresnet56-gsnl-sp5_1xb128-300e_cifar100', ('preresnet56', 'gSNL', 'sp5', '')),
    ('resnet50-cgnl_1xb64-200e_cub200', ('resnet50', 'CGNL', '', '')),
    ('preresnet56-ns-stage3_1xb128-300e_cifar100', ('preresnet56', 'NS', 'stage3', '')),
    ('i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb', ('i3d', 'SNL', '', '')),
    ('i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb', ('i3d', 'baseline', '', '')),
    ('i3d_r50-snl-mmaction-nl-placement_8xb8-32x2x1-100e_kinetics400-rgb', ('i3d', 'SNL', '', '')),
    ('deeplabv3_r50-d8-gsnl_4xb4-20k_voc12aug-512x512', ('deeplabv3', 'gSNL', '', '')),
    ('slowfast_r50-nl_8xb8-4x16x1-256e_kinetics400-rgb', ('slowfast', 'NL', '', '')),
    ('rtmta_r50-snl3d_1xp8k4-800e_mars', ('rtmta', 'SNL', '', '3d')),
    ('rtmtp_r50_1xp8k4-800e_prid2011', ('rtmtp', 'baseline', '', '')),
    ('nonlocal_r50-d8-gsnlhead_4xb4-40k_voc12aug-512x512', ('nonlocal', 'gSNL', '', 'head')),
    ('mars_resnext3d101-snl_4xb4-16x1x1-400e_ucf101-split1-rgb', ('mars', 'SNL', '', '')),
    ('vtn_r34_8xb2-16x2x1-200e_ucf101-split1-rgb', ('vtn', 'baseline', '', '')),
    # the paper's comparison harness: rows of their own
    ('preresnet56-snl-sub1-harness-sym_1xb128-300e_cifar100', ('preresnet56', 'SNL', 'sub1', 'harness-sym')),
    ('preresnet56-nl-harness_1xb128-300e_cifar100', ('preresnet56', 'NL', '', 'harness')),
    ('rtmta_r50-snl3d-harness_1xp8k4-800e_mars', ('rtmta', 'SNL', '', '3d, harness')),
])
def test_config_names_give_block_setting_and_variant(name, expected):
    ident = tables.identify(name)
    assert (ident['backbone'], ident['type'], ident['setting_token'], ident['variant']) == expected


def test_metric_names_of_every_library():
    assert tables.canonical_metric('accuracy/top1') == 'top1'
    assert tables.canonical_metric('acc/top5') == 'top5'
    assert tables.canonical_metric('mIoU') == 'mIoU' and tables.canonical_metric('aAcc') == 'aAcc'
    assert tables.canonical_metric('fwIoU') == 'fwIoU' and tables.canonical_metric('mAP') == 'mAP'
    assert tables.canonical_metric('rank-1') == 'rank1' and tables.canonical_metric('R1') == 'rank1'
    assert tables.canonical_metric('loss') is None and tables.canonical_metric('data_time') is None
    assert tables.canonical_metric('reid/rank1') == 'rank1' and tables.canonical_metric('reid/mAP') == 'mAP'


def test_fraction_metrics_become_percent():
    assert tables._metrics_of({'acc/top1': 0.25, 'acc/mean1': 0.5, 'reid/mAP': 0.5, 'reid/rank1': 0.75}) == \
        {'top1': 25.0, 'mAP': 50.0, 'rank1': 75.0}
    assert tables._metrics_of({'accuracy/top1': 25.0, 'mIoU': 60.0, 'aAcc': 90.0}) == \
        {'top1': 25.0, 'mIoU': 60.0, 'aAcc': 90.0}


def test_paper_results_cover_tables_2_to_15_with_citations():
    data = tables.load_paper_results()
    assert sorted(data['tables'], key=int) == [str(k) for k in range(2, 16)]
    for key, t in data['tables'].items():
        assert t['citation'].startswith(f'Table {key}:') and 'Spectral Nonlocal Block' in t['citation']
        for row in t['rows']:
            assert all(isinstance(row[m], float) for m in t['metrics']), (key, row)
            assert row['type'] in tables.TYPE_ORDER
    rows = {(r['setting'], r['type']): r for r in data['tables']['2']['rows']}
    assert (rows[('Sub 2', 'SNL')]['top1'], rows[('Sub 1', 'CGNL')]['top5']) == (76.41, 93.60)
    assert rows[('Sub 4', 'gSNL')]['top1'] == 76.05 and rows[('-', 'baseline')]['top1'] == 75.33
    t4 = {(r['setting'], r['type']): r for r in data['tables']['4']['rows']}
    assert (t4[('DP 3', 'SNL')]['top1'], t4[('SP 3', 'gSNL')]['top5'], t4[('SP 5', 'NL')]['top1']) == \
        (76.70, 94.32, 75.13)
    t7 = {r['type']: r for r in data['tables']['7']['rows']}
    assert (t7['SNL']['top1'], t7['baseline']['top5'], t7['CGNL']['top1']) == (78.17, 93.14, 74.88)
    t10 = {r['type']: r for r in data['tables']['10']['rows']}
    assert data['tables']['10']['unit'] == 'fraction' and t10['gSNL']['mIoU'] == 0.727 and t10['SNL']['aAcc'] == 0.930
    t12 = {(r['setting'], r['type']): r for r in data['tables']['12']['rows']}
    assert t12[('RTMtp', 'SNL')]['mAP'] == 84.80 and t12[('RTMta', 'baseline')]['rank1'] == 58.70
    t14 = {(r['setting'], r['type']): r['top1'] for r in data['tables']['14']['rows']}
    assert t14[('SlowFast', 'SNL')] == 80.54 and t14[('MARS', 'baseline')] == 92.29


def test_analytic_affinity_counts():
    a, factor = block_averaging(batch=1)  # N = 16, K = 4
    assert affinity_macs(Affinity(dense=a), value_channels=8, embed_channels=8)['total'] == 2 * 16 * 16 * 8
    assert affinity_macs(Affinity(left=factor, right=factor), 8)['total'] == 4 * 32 + 4 * 32 * 8
    fused = Affinity(query=torch.randn(1, 16, 5), key=torch.randn(1, 16, 5))
    assert affinity_macs(fused, 8, applications=3)['total'] == 3 * 16 * 16 * (5 + 8)
