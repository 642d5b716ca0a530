"""VTN's temporal encoder and VTNHead: the original attention against a plain reference of VTN's equations (float64),
our blocks in place of the attention (shapes, gradients, gradcheck, the residual added once), clear errors, and every
config under configs/recognition/vtn building and running on a tiny clip."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from snl_plugins.mmaction import VTNHead
from snl_plugins.mmaction.vtn_encoder import ATTENTIONS, VTNEncoder

ROOT = Path(__file__).resolve().parents[2]
VTN_CONFIGS = sorted((ROOT / 'configs' / 'recognition' / 'vtn').glob('*.py'))
BLOCK_TYPES = ('SNL', 'gSNL', 'NL')


@pytest.fixture(autouse=True)
def _scope(mmaction_scope):
    """VTNHead builds its loss from mmaction2's registry: under another test's leftover default scope
    ('mmengine') it would look in the wrong one, so every test runs in mmaction2's, as mmaction2's tools do."""


# ---- a straightforward reference of VTN's equations (one clip at a time, one head at a time) ----

def ref_position_table(t, c):
    table = torch.zeros(t, c, dtype=torch.float64)
    for p in range(1, t):  # row 0 stays zero
        for j in range(c):
            angle = p / 10000 ** (2 * (j // 2) / c)
            table[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


def ref_layer_norm(x, norm):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def ref_mhsa(x, att):
    """x: (T, C); heads concatenated, scores / sqrt(C), no output projection."""
    heads = []
    for h in range(att.num_heads):
        q, k, v = x @ att.w_q[h], x @ att.w_k[h], x @ att.w_v[h]
        scores = q @ k.T / math.sqrt(x.shape[1])
        weights = torch.exp(scores - scores.max(1, keepdim=True).values)
        heads.append(weights / weights.sum(1, keepdim=True) @ v)
    return torch.cat(heads, 1)


def ref_linear(x, lin):
    return x @ lin.weight.T + lin.bias


def ref_encoder(x, enc):
    """x: (T, C) one clip."""
    t = x.shape[0]
    p = torch.cat([torch.zeros(1, x.shape[1], dtype=x.dtype), enc.position.weight[:t - 1]])
    x = x + p
    for layer in enc.layers:
        x = ref_layer_norm(x + ref_mhsa(x, layer.attention), layer.norm1)
        hidden = torch.relu(ref_linear(x, layer.ffn[0]))
        x = ref_layer_norm(x + ref_linear(hidden, layer.ffn[2]), layer.norm2)
    return x


def ref_head(maps, head):
    feats = maps.mean((2, 3))
    scores = []
    for clip in feats.split(head.clip_len):
        x = clip if isinstance(head.reduce, torch.nn.Identity) else ref_linear(clip, head.reduce)
        scores.append(ref_linear(ref_encoder(x, head.encoder), head.fc_cls).mean(0))
    return torch.stack(scores)


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


def tiny_head(attention=None, in_channels=24, embed_channels=16, clip_len=6, **kw):
    torch.manual_seed(0)
    head = VTNHead(num_classes=5, in_channels=in_channels, clip_len=clip_len, embed_channels=embed_channels,
                   num_layers=2, ffn_channels=32, attention=attention, **kw)
    head.init_weights()
    return head


# ---- the original attention ----

@pytest.mark.parametrize('in_channels', [24, 16], ids=['reduce-linear', 'no-reduce'])
def test_head_with_mhsa_matches_reference_float64(in_channels):
    head = tiny_head(dict(type='MultiHeadSelfAttention', num_heads=4), in_channels=in_channels).double().eval()
    with torch.no_grad():  # a position embedding away from its initial table, as after training
        head.encoder.position.weight.add_(0.1 * torch.randn_like(head.encoder.position.weight))
    maps = torch.randn(3 * 6, in_channels, 3, 2, dtype=torch.float64)  # 3 clips of 6 frames
    out = head(maps, num_segs=6)
    assert out.shape == (3, 5)
    assert rel_err(out, ref_head(maps, head)) < 1e-10


def test_encoder_defaults_position_table_and_layouts():
    enc = VTNEncoder()  # VTN: width 512, 4 layers, 8 heads, FFN 1024, 16 positions
    assert len(enc.layers) == 4
    att = enc.layers[0].attention
    assert (att.num_heads, att.w_q.shape, att.scale) == (8, (8, 512, 64), 512 ** -0.5)
    assert enc.layers[0].ffn[0].weight.shape == (1024, 512) and enc.layers[0].dropout.p == 0.1
    # sin/cos table, row 0 zero and not a parameter
    assert enc.position.weight.shape == (15, 512)
    assert torch.allclose(enc.position.weight.double(), ref_position_table(16, 512)[1:], atol=1e-6)
    assert torch.equal(enc.position(torch.zeros(1, 16, 512))[0, 0], torch.zeros(512))
    enc = VTNEncoder(channels=16, num_layers=1, num_positions=8, ffn_channels=32,
                     attention=dict(type='MultiHeadSelfAttention', num_heads=2)).double().eval()
    x = torch.randn(2, 5, 16, dtype=torch.float64)  # T = 5 < num_positions
    y = enc(x)
    assert rel_err(y[1], ref_encoder(x[1], enc)) < 1e-10
    assert torch.equal(enc(x.transpose(1, 2), layout='BCT'), y.transpose(1, 2))


def test_dropout_only_in_training():
    head = tiny_head(dict(type='MultiHeadSelfAttention', num_heads=4))
    maps = torch.randn(12, 24, 2, 2)
    head.eval()
    assert torch.equal(head(maps, 6), head(maps, 6))
    head.train()
    assert not torch.equal(head(maps, 6), head(maps, 6))


# ---- our blocks in place of the attention ----

@pytest.mark.parametrize('block', BLOCK_TYPES)
def test_block_replaces_attention_residual_added_once(block):
    """A block starting as the identity makes each attention sublayer LN(x): no second residual (2x) is added."""
    enc = VTNEncoder(channels=16, num_layers=1, num_positions=6, ffn_channels=32,
                     attention=dict(type=block, reduction=2)).double().eval()
    layer = enc.layers[0]
    assert type(layer.attention).__name__ == block and layer.attention.dim == 1
    assert layer.attention.in_channels == 16
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    y = ref_layer_norm(x, layer.norm1)
    y = ref_layer_norm(y + ref_linear(torch.relu(ref_linear(y, layer.ffn[0])), layer.ffn[2]), layer.norm2)
    assert rel_err(layer(x), y) < 1e-12


def ref_ffn_sublayer(y, layer):
    return ref_layer_norm(y + ref_linear(torch.relu(ref_linear(y, layer.ffn[0])), layer.ffn[2]), layer.norm2)


@pytest.mark.parametrize('num_blocks', [1, 2])
def test_trained_blocks_replace_the_whole_residual_sublayer(num_blocks):
    """Blocks away from their identity start: the sublayer is LN(blocks(x)) on (B, C, T), not LN(x + blocks(x)),
    also for a chain of blocks (num_blocks=2)."""
    torch.manual_seed(0)
    enc = VTNEncoder(channels=16, num_layers=1, num_positions=6, ffn_channels=32,
                     attention=dict(type='SNL', reduction=2, num_blocks=num_blocks)).double().eval()
    layer = enc.layers[0]
    for norm in [m for m in layer.attention.modules() if isinstance(m, torch.nn.BatchNorm1d)]:
        torch.nn.init.uniform_(norm.weight, 0.5, 1.5)
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    branch_out = layer.attention(x.transpose(1, 2)).transpose(1, 2)
    assert rel_err(branch_out, x) > 1e-2  # the blocks are not the identity
    expected = ref_ffn_sublayer(ref_layer_norm(branch_out, layer.norm1), layer)
    assert rel_err(layer(x), expected) < 1e-12
    assert rel_err(layer(x), ref_ffn_sublayer(ref_layer_norm(x + branch_out, layer.norm1), layer)) > 1e-3


@pytest.mark.parametrize('block', BLOCK_TYPES)
def test_block_shapes_and_gradients_reach_every_parameter_and_the_input(block):
    head = tiny_head(dict(type=block, reduction=2))
    head.train()
    maps = torch.randn(4 * 6, 24, 2, 2, requires_grad=True)  # 2 videos x 2 clips of 6 frames
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    for step in range(2):  # the blocks start as the identity: their inner weights learn from the second step
        optimizer.zero_grad()
        maps.grad = None
        out = head(maps, num_segs=12)
        assert out.shape == (4, 5)
        out.square().sum().backward()
        optimizer.step()
    dead = [n for n, p in head.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead
    assert maps.grad.abs().sum() > 0


@pytest.mark.parametrize('attention', [dict(type='MultiHeadSelfAttention', num_heads=2, attn_dropout=0.0),
                                       dict(type='SNL', reduction=2), dict(type='gSNL', reduction=2),
                                       dict(type='NL', reduction=2)], ids=lambda a: a['type'])
def test_gradcheck_tiny_encoder(attention):
    torch.manual_seed(0)
    enc = VTNEncoder(channels=4, num_layers=1, num_positions=3, ffn_channels=6, dropout=0.0,
                     attention=attention).double()
    with torch.no_grad():  # blocks away from the identity, so that their branch is checked too
        for m in enc.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5)
    enc.eval()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(enc, (x,), eps=1e-6, atol=1e-6)


def test_training_clips_are_averaged_per_video_for_the_loss():
    from mmaction.structures import ActionDataSample
    head = tiny_head(dict(type='SNL')).eval()
    maps = torch.randn(2 * 2 * 6, 24, 2, 2)  # 2 videos x 2 clips
    samples = [ActionDataSample().set_gt_label(torch.tensor(i)) for i in (1, 3)]
    loss = head.loss(maps, samples, num_segs=12)['loss_cls']
    by_hand = torch.nn.functional.cross_entropy(head(maps, 12).view(2, 2, 5).mean(1), torch.tensor([1, 3]))
    assert torch.allclose(loss, by_hand)


# ---- clear errors ----

def test_clear_errors():
    head = tiny_head()
    with pytest.raises(ValueError, match=r'expects per-frame maps \(N\*T, 24, H, W\).*got shape \(12, 24\)'):
        head(torch.randn(12, 24), 6)
    with pytest.raises(ValueError, match=r'in_channels=24.*got shape \(12, 8, 2, 2\)'):
        head(torch.randn(12, 8, 2, 2), 6)
    with pytest.raises(ValueError, match='clip_len=6.*not whole clips'):
        head(torch.randn(8, 24, 2, 2), 4)
    with pytest.raises(ValueError, match=r"unknown attention type 'Transformer'.*MultiHeadSelfAttention, SNL, gSNL"):
        tiny_head(dict(type='Transformer'))
    assert set(ATTENTIONS) >= {'MultiHeadSelfAttention', 'SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL'}
    with pytest.raises(ValueError, match='unknown attention type None'):
        VTNEncoder(attention=dict(num_heads=8))
    with pytest.raises(TypeError, match=r"attention must be a config dict, e.g. dict\(type='SNL'\)"):
        VTNEncoder(attention='SNL')
    with pytest.raises(ValueError, match='encoder width 16.*in_channels=32'):
        tiny_head(dict(type='SNL', in_channels=32))
    with pytest.raises(ValueError, match='dim must be 1'):
        tiny_head(dict(type='SNL', dim=2))
    with pytest.raises(ValueError, match='num_heads must divide in_channels.*in_channels=16, num_heads=3'):
        tiny_head(dict(type='MultiHeadSelfAttention', num_heads=3))
    enc = VTNEncoder(channels=16, num_layers=1, num_positions=4, ffn_channels=8)
    with pytest.raises(ValueError, match=r'5 steps is longer than the position embedding \(num_positions=4\)'):
        enc(torch.randn(1, 5, 16))
    with pytest.raises(ValueError, match=r'3-D BTC input with 16 channels in dimension 2, got shape \(1, 16, 4\)'):
        enc(torch.randn(1, 16, 4))
    with pytest.raises(ValueError, match=r'3-D BCT input.*got shape \(1, 4, 16, 1\)'):
        enc(torch.randn(1, 4, 16, 1), layout='BCT')
    with pytest.raises(ValueError, match='layout must be one of'):
        enc(torch.randn(1, 4, 16), layout='TBC')


# ---- configs ----

def test_vtn_config_set():
    assert sorted(p.name for p in VTN_CONFIGS) == [
        'vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb.py', 'vtn_r34-snl_8xb4-16x2x1-120e_kinetics400-rgb.py',
        'vtn_r34_8xb2-16x2x1-200e_ucf101-split1-rgb.py', 'vtn_r34_8xb4-16x2x1-120e_kinetics400-rgb.py']


@pytest.mark.parametrize('path', VTN_CONFIGS, ids=[p.name for p in VTN_CONFIGS])
def test_config_builds_with_vtn_settings_and_runs(path):
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    cfg = Config.fromfile(str(path))
    ucf = 'ucf101' in path.name
    assert cfg.default_scope == 'mmaction' and 'snl_plugins' in cfg.custom_imports.imports
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('Adam', 1e-5 if ucf else 1e-4, 1e-4)
    assert 'clip_grad' not in cfg.optim_wrapper
    assert [(s.type, s.monitor, s.rule, s.factor) for s in cfg.param_scheduler] == [
        ('ReduceOnPlateauLR', 'acc/top1', 'greater', 0.1)]
    assert cfg.train_cfg.max_epochs == (200 if ucf else 120) and cfg.train_cfg.val_interval == 5
    assert cfg.train_dataloader.batch_size * 8 == (16 if ucf else 32)
    for loader, clips in (('train', 1), ('val', 1), ('test', 10)):
        sample = next(s for s in cfg[f'{loader}_dataloader'].dataset.pipeline if s.type == 'SampleFrames')
        assert (sample.clip_len, sample.frame_interval, sample.num_clips) == (16, 2, clips)
    assert ('ucf101_train_split_1' if ucf else 'kinetics400_train') in cfg.train_dataloader.dataset.ann_file
    crop = next(s for s in cfg.train_dataloader.dataset.pipeline if s.type == 'MultiScaleCrop')
    assert crop.scales == pytest.approx([2 ** (-i / 4) for i in range(4)], abs=1e-4)  # VTN's multi-scale crop
    assert (crop.max_wh_scale_gap, crop.num_fixed_crops, crop.random_crop) == (1, 13, False)
    head = cfg.model.cls_head
    assert (head.type, head.num_classes, head.clip_len, head.average_clips) == (
        'VTNHead', 101 if ucf else 400, 16, 'prob')
    assert head.attention.type == ('SNL' if '-snl' in path.name else 'MultiHeadSelfAttention')
    assert cfg.model.backbone.depth == 34
    if ucf:
        assert cfg.load_from.startswith('checkpoints/vtn_r34') and 'kinetics400' in cfg.load_from
        assert ('-snl' in cfg.load_from) == ('-snl' in path.name) and cfg.model.backbone.pretrained is None
    else:
        assert cfg.load_from is None and cfg.model.backbone.pretrained.endswith('resnet34_torchvision_imagenet.pth')
    cfg.model.backbone.pretrained = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(0)
    clips = torch.randint(0, 256, (2 * 16, 3, 32, 32), dtype=torch.uint8)  # 2 clips of 16 frames, one video
    out = model.val_step(dict(inputs=[clips], data_samples=[ActionDataSample().set_gt_label(torch.tensor(0))]))
    assert out[0].pred_score.shape == (head.num_classes,)
    assert torch.allclose(out[0].pred_score.sum(), torch.tensor(1.0))  # clip probabilities averaged


def test_blocks_can_also_be_injected_into_the_vtn_backbone():
    """The InjectNonlocal path of every other video config works for VTN's per-frame ResNet-34 as well: here an SNL over
    the 16 frames x H x W of each clip before the last block of res4, beside the head's encoder."""
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    cfg = Config.fromfile(str(ROOT / 'configs/recognition/vtn/vtn_r34_8xb2-16x2x1-200e_ucf101-split1-rgb.py'))
    block = dict(type='SegmentNonlocal', num_segments=16, block=dict(type='SNL'), at='layer3.-1', position='before')
    cfg.model.backbone = dict(type='InjectNonlocal', module=cfg.model.backbone, blocks=[block])
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.backbone.layer3.segmentnonlocal_before_5.block).__name__ == 'SNL'
    clips = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    out = model.val_step(dict(inputs=[clips], data_samples=[ActionDataSample().set_gt_label(torch.tensor(0))]))
    assert out[0].pred_score.shape == (101,)
