"""Every video config under configs/recognition loads and builds (weights none), with the paper's settings."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
CFG_DIR = ROOT / 'configs' / 'recognition'
# the families trained with the paper's SGD schedule; VTN (and MARS) follow their authors' solvers and have their
# own config tests
CONFIGS = sorted(p for p in CFG_DIR.rglob('*.py') if p.parent.name in ('i3d', 'slowfast', 'p3d', 'r3d'))
BLOCKS = ('nl', 'ns', 'a2', 'cgnl', 'snl', 'gsnl')


def test_config_set_covers_the_video_rows():
    names = {p.name for p in CONFIGS}
    for ds in ('ucf101-split1', 'kinetics400'):
        assert f'i3d_r50_8xb8-32x2x1-100e_{ds}-rgb.py' in names
        assert f'i3d_r50-snl-mmaction-nl-placement_8xb8-32x2x1-100e_{ds}-rgb.py' in names
        for b in BLOCKS:
            assert f'i3d_r50-{b}_8xb8-32x2x1-100e_{ds}-rgb.py' in names
        for v in ('', '-nl', '-snl'):  # Kinetics-400: mmaction2's 256-epoch schedule
            epochs = '100e' if ds.startswith('ucf101') else '256e'
            assert f'slowfast_r50{v}_8xb8-4x16x1-{epochs}_{ds}-rgb.py' in names
    assert {'p3d_r50_8xb8-16x2x1-100e_ucf101-split1-rgb.py', 'p3d_r50-snl_8xb8-16x2x1-100e_ucf101-split1-rgb.py',
            'p3d_r50_8xb8-16x2x1-100e_kinetics400-rgb.py'} <= names
    # Table 8 on Hara et al.'s 3D ResNet (3x3x3 kernels), and its Kinetics-400 pre-training
    r3d_rows = ('',) + tuple(f'-{b}' for b in BLOCKS)
    assert {f'r3d_r50{b}_8xb8-16x1x1-100e_ucf101-split1-rgb.py' for b in r3d_rows} <= names
    assert 'r3d_r50_8xb8-16x1x1-100e_kinetics400-rgb.py' in names
    assert len(CONFIGS) == 33
    # the local weights are set in one place
    refs = [p for p in CFG_DIR.rglob('*.py') if 'checkpoints/' in p.read_text()]
    assert [p.name for p in refs] == ['pretrained.py']


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_loads_and_builds(path, mmaction_scope):
    from mmaction.registry import MODELS
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmaction' and 'snl_plugins' in cfg.custom_imports.imports
    opt = cfg.optim_wrapper.optimizer
    ucf = 'ucf101' in path.name
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=40, norm_type=2)
    if ucf:  # the paper's UCF-101 fine-tuning schedule (Sec. 4.1)
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.1, 0.9, 1e-4)
        assert cfg.train_cfg.max_epochs == 100
        assert [(s.type, s.milestones, s.gamma) for s in cfg.param_scheduler] == [('MultiStepLR', [40, 80], 0.1)]
    elif path.name.startswith('i3d'):  # Kinetics-400: mmaction2's own I3D schedule (the paper gives none)
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.01, 0.9, 1e-4)
        assert cfg.train_cfg.max_epochs == 100
        assert [(s.type, s.milestones, s.gamma) for s in cfg.param_scheduler] == [('MultiStepLR', [40, 80], 0.1)]
    elif path.name.startswith('slowfast'):  # Kinetics-400: mmaction2's SlowFast schedule, 34 warm-up epochs + cosine
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.1, 0.9, 1e-4)
        assert cfg.train_cfg.max_epochs == 256
        warm, cosine = cfg.param_scheduler
        assert (warm.type, warm.start_factor, warm.end, cosine.type, cosine.T_max, cosine.eta_min) == (
            'LinearLR', 0.1, 34, 'CosineAnnealingLR', 256, 0)
    assert cfg.model.cls_head.num_classes == (101 if ucf else 400)
    assert ('ucf101_train_split_1' if ucf else 'kinetics400_train') in cfg.train_dataloader.dataset.ann_file
    if ucf and not path.name.startswith('slowfast'):  # fine-tuned from Kinetics (paper); SlowFast from scratch
        assert cfg.load_from.startswith('checkpoints/') and 'kinetics400' in cfg.load_from
    backbone = cfg.model.backbone
    host = backbone.module if backbone.type == 'InjectNonlocal' else backbone
    host.pretrained = None
    if host.type == 'ResNet3dSlowFast':
        host.slow_pathway.pretrained = host.fast_pathway.pretrained = None
    with torch.device('meta'):  # structure only: no memory, no init cost
        model = MODELS.build(cfg.model)
    blocks = [m for m in model.backbone.modules() if type(m).__name__ in ('SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL')]
    name = path.name.split('_8xb8')[0]
    expected = {'i3d_r50': 0, 'slowfast_r50': 0, 'p3d_r50': 0, 'r3d_r50': 0, 'i3d_r50-snl-mmaction-nl-placement': 5,
                'slowfast_r50-nl': 3, 'slowfast_r50-snl': 3}.get(name, 1)
    assert len(blocks) == expected
    if blocks:
        kind = name.split('-')[1].upper()
        assert all(type(b).__name__.upper() == kind for b in blocks)
        assert all(b.dim == 3 for b in blocks)
        if name.startswith('i3d') and expected == 1:
            assert hasattr(model.backbone.layer3, 'snl_before_5'.replace('snl', type(blocks[0]).__name__.lower()))
        if name.startswith('p3d'):
            assert blocks[0].in_channels == 512  # before the last block of res3
        if name.startswith('slowfast'):
            assert all(b.in_channels == 1024 for b in blocks)
            assert sum(1 for n, _ in model.backbone.slow_path.layer3.named_children() if '_after_' in n) == 3


def test_bad_configs_say_what_exists(mmaction_scope, tmp_path):
    """A path missing in the backbone, a SlowFast pathway that does not exist: the build names what exists."""
    from mmaction.registry import MODELS
    for base, at, pattern in (
            ('i3d/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py', 'layer5.0',
             r'no submodule "layer5".*layer1, layer2, layer3, layer4'),
            ('slowfast/slowfast_r50-snl_8xb8-4x16x1-100e_ucf101-split1-rgb.py', 'medium_path.layer3.1',
             r'no submodule "medium_path".*slow_path.*fast_path'),
            ('p3d/p3d_r50-snl_8xb8-16x2x1-100e_ucf101-split1-rgb.py', 'layer2.9',
             r'index 9 .*layer2 has 4 submodules')):
        bad = tmp_path / 'bad.py'
        bad.write_text(f"_base_ = ['{CFG_DIR / base}']\n"
                       f"model = dict(backbone=dict(blocks=[dict(type='SNL', at='{at}')]))\n")
        cfg = Config.fromfile(str(bad))
        with pytest.raises(ValueError, match=pattern):
            MODELS.build(cfg.model)


ALL_CONFIGS = sorted(p for p in CFG_DIR.rglob('*.py') if p.parent.name != '_base_')


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=[p.name for p in ALL_CONFIGS])
def test_config_data_sets_check_labels_against_the_classifier(path, mmaction_scope):
    """Every recognition config reads its lists with a checked data set whose num_classes is its classifier's, so a
    label beyond the classes (or a line without one) fails when the data set is built, naming the line."""
    cfg = Config.fromfile(str(path))
    assert 'snl_plugins.mmaction.datasets' in cfg.custom_imports.imports
    frames = 'img' in cfg.train_dataloader.dataset.data_prefix  # rawframes (MARS) rather than videos
    kind = 'CheckedRawframeDataset' if frames else 'CheckedVideoDataset'
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == kind
        assert loader.dataset.num_classes == cfg.model.cls_head.num_classes


def test_config_data_set_builds_and_refuses_a_bad_label(tmp_path, mmaction_scope):
    import importlib

    from mmaction.registry import DATASETS
    from snl_plugins.datacheck import DataSetError
    cfg = Config.fromfile(str(CFG_DIR / 'i3d' / 'i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py'))
    for module in cfg.custom_imports.imports:
        importlib.import_module(module)
    ann = tmp_path / 'list.txt'
    ann.write_text('Basketball/v_Basketball_g01_c01.avi 1\n')
    dataset = dict(cfg.train_dataloader.dataset, ann_file=str(ann))
    assert len(DATASETS.build(dataset)) == 1
    ann.write_text('Basketball/v_Basketball_g01_c01.avi 1\nBasketball/v_Basketball_g02_c01.avi 101\n')
    with pytest.raises(DataSetError, match=f"{ann}, line 2: label '101' is not one of the 101 classes"):
        DATASETS.build(dataset)
