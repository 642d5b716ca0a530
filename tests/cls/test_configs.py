"""Every classification config loads with Config.fromfile and builds its model (no weights)."""
import re
from pathlib import Path

import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import snl_plugins  # noqa: F401
import snl_plugins.cls  # noqa: F401
from snl_plugins.cls.model import _import_timm_models

_import_timm_models()

ROOT = Path(__file__).resolve().parents[2]
CFG_DIR = ROOT / 'configs' / 'classification'
# the faithful set; the paper's harness (paper_harness/) has its own test, test_paper_harness_configs.py
CONFIGS = sorted(p for p in CFG_DIR.rglob('*.py') if '_base_' not in p.parts and 'paper_harness' not in p.parts)
NAME = re.compile(r'^(preresnet\d+|resnet\d+)(-[a-z0-9]+)*_\d+xb\d+-\d+e_(cifar10|cifar100|cub200)\.py$')


def _registered(name: str) -> bool:
    return bool(timm.list_models(name))


def test_config_set_covers_the_tables():
    names = {p.name for p in CONFIGS}
    # 4 baselines + 6 blocks x (PR-20, PR-56, 7 PR-56 ablations, R-50 x 2) + Appendix D's SNL / NS stages on CUB
    assert len(CONFIGS) == 72, len(CONFIGS)
    assert {'resnet50-snl-sp3_1xb64-200e_cub200.py', 'resnet50-ns-sp3_1xb64-200e_cub200.py'} <= names
    for block in ('nl', 'ns', 'a2', 'cgnl', 'snl', 'gsnl'):
        for v in ('sub1', 'sub4', 'stage2', 'stage3', 'dp3', 'sp3', 'sp5'):
            assert f'preresnet56-{block}-{v}_1xb128-300e_cifar100.py' in names
        assert f'preresnet20-{block}_1xb128-300e_cifar10.py' in names
        assert f'resnet50-{block}_1xb128-300e_cifar100.py' in names
        assert f'resnet50-{block}_1xb64-200e_cub200.py' in names
    readme = (CFG_DIR / 'README.md').read_text()
    for p in CONFIGS:
        assert p.relative_to(CFG_DIR).as_posix() in readme, p


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_loads_and_builds(path):
    assert NAME.match(path.name), f'{path.name} does not follow {{backbone}}[-block][-variant]_{{batch}}_{{schedule}}_{{dataset}}'
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmengine'
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.momentum, optim.weight_decay) == ('SGD', 0.1, 0.9, 1e-4)
    if 'cub200' in path.name:
        assert cfg.train_cfg.max_epochs == 200 and cfg.param_scheduler.milestones == [30, 60, 80]
        assert cfg.model.model.pretrained and cfg.model.model.pretrained_cfg_overlay.file
        num_classes, size = 200, 64
    else:
        assert cfg.train_cfg.max_epochs == 300 and cfg.param_scheduler.milestones == [150, 250]
        assert cfg.train_dataloader.batch_size == 128
        num_classes, size = (10 if 'cifar10_' in path.name or path.name.endswith('cifar10.py') else 100), 32
    assert cfg.model.model.num_classes == num_classes
    name = cfg.model.model.name
    assert _registered(name), f'timm model {name!r} of {path.name} is not registered'
    cfg.model.model.pretrained = False
    init_default_scope('mmengine')
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    block = path.name.split('_')[0].split('-')
    if len(block) > 1:  # a non-local variant: its blocks are in the network
        from snl_plugins import nonlocal_modules
        found = list(nonlocal_modules(model))
        assert found, f'no non-local block in {path.name}'
    if path.name.startswith(('preresnet20_', 'preresnet20-snl_')):  # one cheap forward; the blocks have own tests
        model.eval()
        with torch.no_grad():
            out = model(torch.rand(2, 3, size, size), mode='tensor')
        assert out.shape == (2, num_classes)
