"""The recognition configs of the paper's comparison harness (configs/recognition/paper_harness/): each block row of
Tables 8, 14 and 15 (and the Kinetics-400 rows beside them) as its faithful twin plus the harness options; each
builds and runs one forward / backward with those options on its blocks (on a tiny clip, backbone or head only)."""
import pytest
import torch
from mmengine.config import Config

from fixtures.paper_harness import (SAME, assert_blocks_train, assert_harness_blocks, assert_harness_coverage,
                                    assert_only_block_options_differ, harness_configs, twin_of)

CONFIGS = harness_configs('recognition')
# a clip each backbone takes (B x C x T x H x W): SlowFast needs T = 32 for its 4-frame slow pathway
CLIPS = {'i3d': (2, 3, 8, 32, 32), 'r3d': (2, 3, 16, 32, 32), 'slowfast': (2, 3, 32, 32, 32),
         'p3d': (2, 3, 16, 32, 32), 'mars': (2, 3, 16, 32, 32)}


def test_every_block_row_has_its_harness_configs():
    rec = CONFIGS[0].parents[1]
    families = ('i3d', 'r3d', 'slowfast', 'p3d', 'vtn', 'mars')
    faithful = sorted(p for p in rec.glob('*/*.py') if p.parent.name in families
                      and '-' in p.name.split('_')[1] and 'placement' not in p.name
                      and not p.name.startswith('resnext3d'))  # MARS's flow teacher: no block
    assert_harness_coverage(CONFIGS, faithful, lambda p: p.name.split('_')[1].split('-')[1] in ('snl', 'gsnl'))


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_harness_config_builds_and_trains(path, mmaction_scope):
    from mmaction.registry import MODELS
    cfg, twin = Config.fromfile(str(path)), Config.fromfile(str(twin_of(path)))
    assert_only_block_options_differ(cfg, twin, keys=SAME + (() if path.name.startswith('vtn') else ('load_from',)))
    family = path.name.split('_')[0]
    torch.manual_seed(0)
    if family == 'vtn':  # the blocks replace the attention of the head's 4 encoder layers (1D, over T)
        if 'ucf101' in path.name:  # from the Kinetics-400 VTN + SNL of the same harness set
            assert 'harness' in cfg.load_from and ('-sym' in cfg.load_from) == ('-sym' in path.name)
        head = MODELS.build(cfg.model.cls_head)
        head.train()
        blocks = assert_harness_blocks(head, path, count=4)
        out = head(torch.randn(2 * 16, 512, 2, 2), 16)  # 2 clips of 16 frames of ResNet-34 maps
    else:
        backbone = cfg.model.backbone
        assert backbone.type == 'InjectNonlocal'
        host = backbone.module
        if 'pretrained' in host:  # local weight files are the user's
            host.pretrained = None
        if host.type == 'ResNet3dSlowFast':
            host.slow_pathway.pretrained = host.fast_pathway.pretrained = None
        model = MODELS.build(backbone)
        model.train()  # some mmaction2 backbones' train() returns None
        blocks = assert_harness_blocks(model, path, count=len(backbone.blocks))
        out = model(torch.randn(CLIPS[family]))
        out = torch.cat([o.flatten() for o in out]) if isinstance(out, tuple) else out
    assert_blocks_train(blocks, out)
