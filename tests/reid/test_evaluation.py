"""evaluate_rank / evaluate_features against hand-computed CMC and mAP, and against a plain per-query reference."""
import numpy as np
import pytest
import torch

from snl_plugins.reid import evaluate_features, evaluate_rank, pairwise_distance

# gallery: pid, camera
G_PIDS = np.array([1, 2, 1, 3, 2])
G_CAMS = np.array([0, 1, 1, 0, 0])
# q0: its own tracklet g0 (pid 1, camera 0) sits in the gallery at distance 0.1 -> removed; true match g2 at kept
#     rank 2 -> first 2, AP 1/2
# q1: g4 (same pid, same camera) removed; ranking g2, g3, g1 (match), g0 -> first 3, AP 1/3
# q2: pid 3 camera 0: its only gallery entry g3 has the same camera -> no valid match, skipped
# q3: pid 1 camera 2: ranking g3, g0 (match), g2 (match), g4, g1 -> first 2, AP (1/2 + 2/3) / 2 = 7/12
Q_PIDS = np.array([1, 2, 3, 1])
Q_CAMS = np.array([0, 0, 0, 2])
DIST = np.array([[0.1, 0.2, 0.3, 0.4, 0.5],
                 [0.5, 0.4, 0.1, 0.3, 0.2],
                 [0.3, 0.2, 0.4, 0.1, 0.5],
                 [0.2, 0.9, 0.25, 0.1, 0.3]])


def test_hand_computed_standard():
    cmc, mAP = evaluate_rank(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5)
    np.testing.assert_allclose(cmc, [0, 2 / 3, 1, 1, 1], atol=1e-6)
    assert mAP == pytest.approx((1 / 2 + 1 / 3 + 7 / 12) / 3)
    assert isinstance(cmc, np.ndarray) and cmc.shape == (5,)


def test_max_rank_beyond_gallery_pads_with_matched():
    cmc, _ = evaluate_rank(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=50)
    assert cmc.shape == (50,) and cmc[2:].min() == 1.0


def test_hand_computed_mars_official():
    # trapezoid AP (MARS-evaluation compute_AP.m): each true match adds (1/n) * (prec_before + prec_at) / 2
    # q0: match at kept rank 2 -> (0 + 1/2) / 2 = 1/4; q1: rank 3 -> (0 + 1/3) / 2 = 1/6;
    # q3: ranks 2, 3 -> ((0 + 1/2) / 2 + (1/2 + 2/3) / 2) / 2 = 5/12
    cmc, mAP = evaluate_rank(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5, protocol='mars_official')
    np.testing.assert_allclose(cmc, [0, 2 / 3, 1, 1, 1], atol=1e-6)
    assert mAP == pytest.approx((1 / 4 + 1 / 6 + 5 / 12) / 3)


def test_junk_identity_only_removed_by_the_official_protocol():
    # a pid -1 (Mars junk) tracklet ranked first: a wrong match for torchreid, ignored by the official code
    dist, gp, gc = np.array([[0.1, 0.2]]), np.array([-1, 5]), np.array([0, 1])
    cmc, mAP = evaluate_rank(dist, [5], gp, [0], gc, max_rank=2)
    np.testing.assert_allclose(cmc, [0, 1])
    assert mAP == pytest.approx(0.5)
    cmc, mAP = evaluate_rank(dist, [5], gp, [0], gc, max_rank=2, protocol='mars_official')
    np.testing.assert_allclose(cmc, [1, 1])
    assert mAP == pytest.approx(1.0)


def test_queries_in_gallery_are_removed_as_same_camera():
    # the official Mars gallery holds the queries themselves: each query's own entry (distance 0) drops out
    feats = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    pids, cams = np.array([1, 2, 1, 2]), np.array([0, 0, 1, 1])
    cmc, mAP = evaluate_features(feats[:2], feats, pids[:2], pids, cams[:2], cams, max_rank=4)
    # q0 -> g2 (pid 1, cam 1) first among kept; q1 -> kept g0, g2 (wrong), g3 (match at rank 3)
    np.testing.assert_allclose(cmc, [0.5, 0.5, 1, 1])
    assert mAP == pytest.approx((1 + 1 / 3) / 2)


def test_no_valid_query_raises():
    with pytest.raises(ValueError, match='no query has a true match'):
        evaluate_rank(DIST[2:3], Q_PIDS[2:3], G_PIDS, Q_CAMS[2:3], G_CAMS)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match='q_pids has 3 entries, expected 4'):
        evaluate_rank(DIST, Q_PIDS[:3], G_PIDS, Q_CAMS, G_CAMS)
    with pytest.raises(ValueError, match='protocol'):
        evaluate_rank(DIST, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, protocol='market')


def _reference(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """A plain per-query loop in the words of the protocol."""
    cmcs, aps = [], []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind='stable')
        keep = ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))
        match = (g_pids[order] == q_pids[i])[keep]
        if not match.any():
            continue
        first = np.flatnonzero(match)[0]
        cmc = np.zeros(max_rank)
        cmc[first:] = 1
        cmcs.append(cmc)
        hits = np.flatnonzero(match)
        aps.append(np.mean([(k + 1) / (r + 1) for k, r in enumerate(hits)]))
    return np.mean(cmcs, 0), float(np.mean(aps))


@pytest.mark.parametrize('chunk', [1, 7, 1000])
def test_random_against_reference_and_features(chunk):
    rng = np.random.default_rng(chunk)
    qf, gf = torch.randn(23, 8, dtype=torch.float64), torch.randn(41, 8, dtype=torch.float64)
    q_pids, g_pids = rng.integers(0, 6, 23), rng.integers(0, 6, 41)
    q_cams, g_cams = rng.integers(0, 3, 23), rng.integers(0, 3, 41)
    dist = pairwise_distance(qf, gf).numpy()
    ref_cmc, ref_map = _reference(dist, q_pids, g_pids, q_cams, g_cams, 10)
    cmc, mAP = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=10, chunk_size=chunk)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)
    assert mAP == pytest.approx(ref_map)
    cmc2, map2 = evaluate_features(qf, gf, q_pids, g_pids, q_cams, g_cams, max_rank=10, chunk_size=chunk)
    np.testing.assert_allclose(cmc2, cmc, atol=1e-6)
    assert map2 == pytest.approx(mAP)
    # Euclidean ranks as squared Euclidean does
    cmc3, map3 = evaluate_features(qf, gf, q_pids, g_pids, q_cams, g_cams, max_rank=10, distance='euclidean')
    np.testing.assert_allclose(cmc3, cmc, atol=1e-6)
    assert map3 == pytest.approx(mAP)


def test_pairwise_distance_matches_cdist():
    a, b = torch.randn(5, 3), torch.randn(4, 3)
    torch.testing.assert_close(pairwise_distance(a, b, 'euclidean').float(), torch.cdist(a, b), atol=1e-5, rtol=0)
    torch.testing.assert_close(pairwise_distance(a, b).float(), torch.cdist(a, b) ** 2, atol=1e-4, rtol=0)
