"""The segmentation configs of the paper's comparison harness (configs/segmentation/paper_harness/): each block row of
Table 10 (backbone blocks in DeepLabV3 / V3+, the SNL / gSNL decode heads) as its faithful twin plus the harness
options; each builds (SyncBN -> BN) and runs one forward / backward on a tiny image with those options on its blocks."""
import pytest
import torch

pytest.importorskip('mmseg')
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import snl_plugins.mmseg  # noqa: E402,F401
from fixtures.paper_harness import (assert_blocks_train, assert_harness_blocks, assert_harness_coverage,  # noqa: E402
                                    assert_only_block_options_differ, harness_configs, twin_of)
from test_seg_configs import no_sync_bn  # noqa: E402

CONFIGS = harness_configs('segmentation')


def test_every_block_row_has_its_harness_configs():
    seg = CONFIGS[0].parents[1]
    faithful = sorted(p for p in seg.glob('*/*.py') if p.parent.name not in ('demo', 'paper_harness')
                      and len(p.name.split('_')[1].split('-')) > 2 and 'plugin' not in p.name)
    assert_harness_coverage(CONFIGS, faithful, lambda p: 'snl' in p.name.split('_')[1])


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_harness_config_builds_and_trains(path):
    from mmseg.registry import MODELS
    cfg, twin = Config.fromfile(str(path)), Config.fromfile(str(twin_of(path)))
    assert_only_block_options_differ(cfg, twin)
    model_cfg = no_sync_bn(cfg.model.to_dict())
    model_cfg['pretrained'] = None
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(model_cfg)
    model.train()
    blocks = assert_harness_blocks(model, path, count=1)
    torch.manual_seed(0)
    assert_blocks_train(blocks, model(torch.randn(2, 3, 64, 64), mode='tensor'))
