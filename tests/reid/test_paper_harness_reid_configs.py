"""The re-ID configs of the paper's comparison harness (configs/reid/paper_harness/): each block row of Tables 11-13
(2D and 3D readings) as its faithful twin plus the harness options; each builds and runs one forward / backward on a
tiny clip with those options on its block."""
import pytest
import torch
from mmengine.config import Config

import snl_plugins.reid  # noqa: F401
from fixtures.paper_harness import (assert_blocks_train, assert_harness_blocks, assert_harness_coverage,
                                    assert_only_block_options_differ, harness_configs, twin_of)

CONFIGS = harness_configs('reid')


def test_every_block_row_has_its_harness_configs():
    reid = CONFIGS[0].parents[1]
    faithful = sorted(p for p in reid.glob('*.py') if '-' in p.name.split('_')[1])
    assert_harness_coverage(CONFIGS, faithful, lambda p: '-snl' in p.name)


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_harness_config_builds_and_trains(path):
    from mmengine.registry import MODELS
    cfg, twin = Config.fromfile(str(path)), Config.fromfile(str(twin_of(path)))
    assert_only_block_options_differ(cfg, twin)
    cfg.model.pretrained = None  # the ImageNet file is the user's
    cfg.model.frame_size = (64, 32)  # a tiny frame (RTMta's attention kernel follows it); the blocks are unchanged
    model = MODELS.build(cfg.model)
    model.train()
    blocks = assert_harness_blocks(model, path, count=1)
    torch.manual_seed(0)
    assert_blocks_train(blocks, model(torch.randn(2, 4, 3, 64, 32), mode='tensor'))  # 2 clips of 4 frames
