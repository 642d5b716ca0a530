"""The classification configs of the paper's comparison harness (configs/classification/paper_harness/): one per
block row of Tables 2-7 and 9 (SNL / gSNL rows twice: row and 'sym' normalisation), each its faithful twin plus the
harness options, building and running one forward / backward with those options on the blocks."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import snl_plugins  # noqa: F401
import snl_plugins.cls  # noqa: F401
from fixtures.paper_harness import (assert_blocks_train, assert_harness_blocks, assert_harness_coverage,
                                    assert_only_block_options_differ, harness_configs, twin_of)
from snl_plugins.cls.model import _import_timm_models

_import_timm_models()
CONFIGS = harness_configs('classification')


def test_every_block_row_has_its_harness_configs():
    faithful = sorted(p for p in (CONFIGS[0].parents[1]).glob('*/*.py')
                      if p.parent.name != 'paper_harness' and '-' in p.name.split('_')[0])
    assert_harness_coverage(CONFIGS, faithful, lambda p: p.name.split('_')[0].split('-')[1] in ('snl', 'gsnl'))


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_harness_config_builds_and_trains(path):
    cfg, twin = Config.fromfile(str(path)), Config.fromfile(str(twin_of(path)))
    assert_only_block_options_differ(cfg, twin)
    cfg.model.model.pretrained = False
    init_default_scope('mmengine')
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    m = cfg.model.model
    blocks = assert_harness_blocks(model, path, count=len(m.nl_at) * m.get('nl_units', 1))
    size = 64 if 'cub200' in path.name else 32
    torch.manual_seed(0)
    model.train()
    assert_blocks_train(blocks, model(torch.rand(2, 3, size, size), mode='tensor'))
