"""Every re-ID config: the table row it claims, the original training settings, and the block placement."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import snl_plugins.reid  # noqa: F401
from snl_plugins.blocks import NL, SNL
from snl_plugins.reid import RTM, ClipNonlocal

CFG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'reid'
CONFIGS = sorted(CFG_DIR.glob('*.py'))
IDS = {'mars': ('Mars', 625), 'ilidsvid': ('iLIDSVID', 150), 'prid2011': ('PRID2011', 89)}
NAME = re.compile(r'^(rtmtp|rtmta)_r50(?:-(nl|snl)(3d)?)?_1xp8k4-800e_(mars|ilidsvid|prid2011)\.py$')


def test_every_table_row_has_a_config():
    rows = {(m, b, d) for m in ('rtmtp', 'rtmta') for b in (None, 'nl', 'snl') for d in IDS}
    found = {(NAME.match(p.name).group(1), NAME.match(p.name).group(2), NAME.match(p.name).group(4)) for p in CONFIGS}
    assert rows <= found and len(CONFIGS) == 30  # 18 rows, NL / SNL rows in both readings (2D, 3D)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_settings(path):
    temporal, block, is3d, dataset = NAME.match(path.name).groups()
    cfg = Config.fromfile(str(path))
    m = cfg.model
    assert m.type == 'RTM' and m.temporal == temporal[-2:] and m.backbone.name == 'resnet50' and not m.bnneck
    assert tuple(m.frame_size) == (224, 112) and m.num_classes == IDS[dataset][1]
    assert m.loss_ce == dict(type='CrossEntropyLoss', label_smoothing=0.1)
    assert m.loss_triplet == dict(type='BatchHardTripletLoss', margin=0.3)
    blocks = m.get('nonlocal_blocks', [])
    if block is None:
        assert not blocks
    else:
        assert blocks == [dict(type=block.upper(), at='layer3.-1', position='before', dim=3 if is3d else 2,
                               reduction=2)]
    tl = cfg.train_dataloader
    assert tl.batch_size == 32 and tl.sampler == dict(type='RandomIdentitySampler', num_instances=4, batch_size=32)
    assert tl.dataset.type == IDS[dataset][0] and tl.dataset.seq_len == 4 and tl.dataset.sampling == 'random'
    assert cfg.test_dataloader.dataset.split == 'test' and cfg.test_dataloader.dataset.sampling == 'dense'
    assert cfg.test_evaluator.type == 'VideoReIDMetric' and cfg.test_evaluator.protocol == 'standard'
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=3e-4, weight_decay=5e-4)
    assert cfg.param_scheduler == dict(type='StepLR', by_epoch=True, step_size=200, gamma=0.1)
    assert cfg.train_cfg.max_epochs == 800 and cfg.train_cfg.val_interval == 50
    assert 'snl_plugins.reid' in cfg.custom_imports.imports


@pytest.mark.parametrize('name', ['rtmta_r50-snl_1xp8k4-800e_mars.py', 'rtmtp_r50-nl3d_1xp8k4-800e_prid2011.py'])
def test_config_builds_the_described_model(name):
    from mmengine.registry import MODELS
    cfg = Config.fromfile(str(CFG_DIR / name))
    cfg.model.pretrained = None  # the ImageNet file is the user's
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert isinstance(model, RTM)
    layer3 = dict(model.backbone.layer3.named_children())
    assert list(layer3)[-2].endswith('_before_5')  # right before the last block of res4
    block = layer3[list(layer3)[-2]]
    if '3d' in name:
        assert isinstance(block, ClipNonlocal) and isinstance(block.block, NL) and block.block.dim == 3
    else:
        assert type(block) is SNL and block.dim == 2 and block.in_channels == 1024 and block.inter_channels == 512
    if 'rtmta' in name:
        assert model.attention_conv.kernel_size == (7, 4)
