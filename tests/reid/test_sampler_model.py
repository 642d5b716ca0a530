"""RandomIdentitySampler (single process and 2 ranks), RTM (tp / ta, 2D / 3D blocks, weights, losses, tracklet
features) and VideoReIDMetric."""
import numpy as np
import pytest
import torch

from fixtures.reid import write_mars

from snl_plugins.blocks import NL, SNL  # noqa: E402
from snl_plugins.reid import RTM, ClipNonlocal, Mars, RandomIdentitySampler, VideoReIDMetric  # noqa: E402


class FakeDataset:
    def __init__(self, pids):
        self.pids = np.asarray(pids)

    def __len__(self):
        return len(self.pids)

    def get_pids(self):
        return self.pids


def _batches(sampler, batch_size):
    idx = list(sampler)
    assert len(idx) == len(sampler) and len(idx) % batch_size == 0
    return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]


def _check_pk(batch, pids, P, K, distinct=True):
    groups = [batch[i:i + K] for i in range(0, len(batch), K)]
    assert len(groups) == P
    ids = [pids[g[0]] for g in groups]
    assert len(set(ids)) == P  # P different identities
    for g in groups:
        assert all(pids[i] == pids[g[0]] for i in g)  # K tracklets of one identity
        if distinct:
            assert len(set(g)) == K  # distinct tracklets
    return ids


def test_sampler_single_process():
    pids = np.repeat(np.arange(10), 5)[np.random.default_rng(0).permutation(50)]  # 10 ids x 5 tracklets, shuffled
    s = RandomIdentitySampler(FakeDataset(pids), num_instances=4, batch_size=12, seed=3, rank=0, world_size=1)
    batches = _batches(s, 12)
    assert len(batches) == 3  # 10 identities, 3 per batch
    seen = [i for b in batches for i in _check_pk(b, pids, 3, 4)]
    assert len(seen) == len(set(seen)) == 9  # no identity twice in an epoch
    first = list(s)
    assert list(s) == first  # the same epoch, the same order
    s.set_epoch(1)
    assert list(s) != first


def test_sampler_two_ranks_get_disjoint_whole_identity_groups():
    pids = np.repeat(np.arange(11), 4)
    ranks = [RandomIdentitySampler(FakeDataset(pids), num_instances=4, batch_size=8, seed=5, rank=r, world_size=2)
             for r in (0, 1)]
    for epoch in (0, 1):
        ids = []
        for s in ranks:
            s.set_epoch(epoch)
            batches = _batches(s, 8)
            assert len(batches) == 2  # 11 identities, 2 per batch per rank: 2 full rounds
            ids.append([i for b in batches for i in _check_pk(b, pids, 2, 4)])
        assert len(ranks[0]) == len(ranks[1])
        assert not set(ids[0]) & set(ids[1]) and len(set(ids[0] + ids[1])) == 8
        assert len(set(list(ranks[0])) & set(list(ranks[1]))) == 0  # no tracklet on both ranks


def test_sampler_with_fewer_tracklets_than_k_repeats_them():
    pids = np.repeat(np.arange(4), 2)  # iLIDS-VID-like: two tracklets per person
    s = RandomIdentitySampler(FakeDataset(pids), num_instances=4, batch_size=8, seed=0, rank=0, world_size=1)
    for b in _batches(s, 8):
        _check_pk(b, pids, 2, 4, distinct=False)


def test_sampler_errors():
    with pytest.raises(ValueError, match='multiple of num_instances'):
        RandomIdentitySampler(FakeDataset([0, 1]), num_instances=4, batch_size=6, seed=0)
    with pytest.raises(ValueError, match='3 identities cannot fill one batch of 2 identities on each of 2'):
        RandomIdentitySampler(FakeDataset([0, 1, 2]), num_instances=2, batch_size=4, seed=0, rank=0, world_size=2)


def test_sampler_on_mars_layout(tmp_path):
    ds = Mars(write_mars(tmp_path / 'mars', tracklets_per_id=4), split='train')
    pids = ds.get_pids()
    for world in (1, 2):
        got = []
        for r in range(world):
            s = RandomIdentitySampler(ds, num_instances=3, batch_size=6, seed=0, rank=r, world_size=world)
            for b in _batches(s, 6):
                got += _check_pk(b, pids, 2, 3)
        assert len(got) == len(set(got)) == 4


def _model(temporal='tp', blocks=(), **kw):
    torch.manual_seed(0)
    return RTM(num_classes=3, temporal=temporal, backbone=dict(name='resnet18'), frame_size=(32, 16),
               nonlocal_blocks=blocks, **kw).eval()


def test_blocks_are_identity_at_start_and_3d_block_sees_the_clip():
    clips = torch.randn(2, 3, 3, 32, 16)
    plain = _model()
    blocks = [dict(type='SNL', at='layer3.-1', dim=3), dict(type='gSNL', at='layer3.-1'),
              dict(type='NL', at='layer2.-1', dim=3)]
    injected = _model(blocks=blocks)
    injected.load_state_dict(plain.state_dict(), strict=False)
    kinds = [(type(m).__name__, getattr(m, 'dim', None)) for m in injected.backbone.modules()
             if isinstance(m, (SNL, NL, ClipNonlocal))]
    assert kinds == [('ClipNonlocal', None), ('NL', 3), ('ClipNonlocal', None), ('SNL', 3), ('gSNL', 2)]
    assert [n for n, _ in injected.backbone.layer3.named_children()] == ['0', 'clipnonlocal_before_1',
                                                                         'gsnl_before_1', '1']
    with torch.no_grad():
        torch.testing.assert_close(injected.clip_features(clips)[0], plain.clip_features(clips)[0])
    # the 3D block mixes frames: with its norm non-zero, changing frame 2 changes frame 0's maps
    wrap = injected.backbone.layer3.clipnonlocal_before_1
    torch.nn.init.ones_(wrap.block.norm.weight)
    wrap.clip_len = 3
    x = torch.randn(6, 256, 2, 1)
    y = wrap(x)
    x2 = x.clone()
    x2[2] += 1
    assert not torch.allclose(wrap(x2)[0], y[0])
    assert torch.allclose(wrap(x2)[3:], y[3:])  # the other clip is untouched
    torch.testing.assert_close(y, wrap.block(x.view(2, 3, 256, 2, 1).transpose(1, 2)).transpose(1, 2).reshape(6, 256, 2, 1))


def test_temporal_attention_is_a_convex_combination():
    m = _model('ta')
    assert m.attention_conv.kernel_size == (1, 1) and m.attention_tconv.kernel_size == (3,)
    assert RTM(num_classes=2, temporal='ta', backbone=dict(name='resnet18')).attention_conv.kernel_size == (7, 4)
    frame = torch.randn(1, 1, 3, 32, 16)
    with torch.no_grad():
        same = m.clip_features(frame.expand(1, 4, 3, 32, 16))[0]
        tp = _model('tp').clip_features(frame)[0]
    torch.testing.assert_close(same, tp, rtol=1e-4, atol=1e-4)  # equal frames: any weights give the frame feature
    with pytest.raises(ValueError, match='RTMta was built for frames of'):
        m.clip_features(torch.randn(1, 2, 3, 64, 32))


def test_loss_and_backward_and_bnneck():
    for bnneck in (False, True):
        m = _model(bnneck=bnneck).train()
        clips = torch.randn(4, 2, 3, 32, 16)
        losses = m(clips, dict(gt_label=torch.tensor([0, 0, 1, 1])), mode='loss')
        assert set(losses) == {'loss_ce', 'loss_triplet', 'acc'}
        (losses['loss_ce'] + losses['loss_triplet']).backward()
        assert m.classifier.weight.grad is not None and m.backbone.conv1.weight.grad is not None
        assert (m.classifier.bias is None) == bnneck
    with pytest.raises(ValueError, match='num_classes=3'):
        m(clips, dict(gt_label=torch.tensor([0, 0, 5, 5])), mode='loss')


def test_tracklet_feature_is_the_mean_of_its_clips():
    m = _model('ta', test_clips_per_forward=2)
    a, b = torch.randn(3, 2, 3, 32, 16), torch.randn(1, 2, 3, 32, 16)
    samples = dict(pid=[4, 5], camid=[0, 1], query=[True, False], gallery=[False, True], index=[0, 1])
    with torch.no_grad():
        out = m([a, b], samples, mode='predict')
        clip_a = m.clip_features(a)[1]
    torch.testing.assert_close(out[0]['feat'], clip_a.mean(0), rtol=1e-4, atol=1e-5)
    assert out[1]['pid'] == 5 and out[1]['gallery'] is True and out[0]['feat'].shape == (512,)


def test_local_pretrained_file_survives_init_weights(tmp_path):
    import torchvision
    tv = torchvision.models.resnet18()
    torch.save(tv.state_dict(), tmp_path / 'r18.pth')
    m = RTM(num_classes=3, backbone=dict(name='resnet18'), pretrained=str(tmp_path / 'r18.pth'),
            nonlocal_blocks=[dict(type='SNL', at='layer3.-1')])
    m.init_weights()  # what the Runner does
    torch.testing.assert_close(m.backbone.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)
    torch.save({'conv1.weight': tv.conv1.weight}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match=r'bad.pth does not fit the backbone .* missing \[\'bn1.weight'):
        RTM(num_classes=3, backbone=dict(name='resnet18'), pretrained=str(tmp_path / 'bad.pth'))


def test_metric_reports_fractions():
    metric = VideoReIDMetric(ranks=(1, 5))
    feats = torch.tensor([[0.0], [1.0], [0.1], [1.1], [3.0]])
    rows = [(1, 0, True, False), (2, 0, True, False), (1, 1, False, True), (2, 1, False, True), (3, 1, False, True)]
    metric.process(None, [dict(feat=f, pid=p, camid=c, query=q, gallery=g) for f, (p, c, q, g) in zip(feats, rows)])
    res = metric.evaluate(5)
    assert res == {'reid/mAP': 1.0, 'reid/rank1': 1.0, 'reid/rank5': 1.0}
    with pytest.raises(ValueError, match='ranks must be in'):
        VideoReIDMetric(ranks=(1, 60))
