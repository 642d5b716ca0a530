"""Every segmentation config under configs/ loads and builds (weights none, SyncBN -> BN; built on the meta device,
so ResNet-50 costs no initialisation), with the block where Table 10 puts it and the paper's settings where claimed."""
import glob
from pathlib import Path

import pytest
import torch

pytest.importorskip('mmseg')
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import snl_plugins.mmseg  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[2]
CFG_DIR = ROOT / 'configs' / 'segmentation'
# the paper's harness (paper_harness/) has its own test: test_paper_harness_seg_configs.py
ALL_CONFIGS = sorted(c for c in glob.glob(str(CFG_DIR / '**' / '*.py'), recursive=True)
                     if Path(c).parent.name != 'paper_harness')
DEMO_CONFIGS = [c for c in ALL_CONFIGS if Path(c).parent.name == 'demo']  # tests/segmentation/test_seg_demo.py
CONFIGS = [c for c in ALL_CONFIGS if c not in DEMO_CONFIGS]  # VOC2012
BLOCKS = {'nl': 'NL', 'ns': 'NS', 'a2': 'A2', 'cgnl': 'CGNL', 'snl': 'SNL', 'gsnl': 'gSNL'}


def no_sync_bn(obj):
    if isinstance(obj, dict):
        if obj.get('type') == 'SyncBN':
            obj['type'] = 'BN'
        for v in obj.values():
            no_sync_bn(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            no_sync_bn(v)
    return obj


def block_of(path: str):
    """(block type, where): 'head' (NonlocalHead), 'plugin' (mmseg's ResNet plugins=) or None (InjectNonlocal)."""
    stem = Path(path).stem.split('_')[1]  # r50-d8-snl / r50-d16-gsnl / r50-d8-snlhead / r50-d8-snlplugin
    tag = stem.split('-')[-1]
    for where in ('head', 'plugin'):
        if tag.endswith(where):
            return BLOCKS.get(tag[:-len(where)]), where
    return BLOCKS.get(tag), None


def test_every_row_of_table_10_has_its_configs():
    names = {Path(c).name for c in CONFIGS}
    for blk in [''] + [f'-{b}' for b in BLOCKS]:
        assert f'deeplabv3_r50-d8{blk}_4xb4-20k_voc12aug-512x512.py' in names  # mmseg's schedule
        assert f'deeplabv3plus_r50-d8{blk}_4xb4-20k_voc12aug-512x512.py' in names  # mmseg's schedule
        assert f'deeplabv3plus_r50-d16{blk}_1xb4-50e_voc12aug-513x513.py' in names  # the paper's setting
    for sched in ('20k', '40k'):
        for blk in ('', '-snlhead', '-gsnlhead'):
            assert f'nonlocal_r50-d8{blk}_4xb4-{sched}_voc12aug-512x512.py' in names
    assert 'deeplabv3_r50-d8-snlplugin_4xb4-20k_voc12aug-512x512.py' in names  # mmseg's own plugins= route
    assert len(CONFIGS) == 28


@pytest.mark.parametrize('path', CONFIGS, ids=[str(Path(c).relative_to(CFG_DIR)) for c in CONFIGS])
def test_config_builds(path):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports['imports'][:2] == ['snl_plugins', 'snl_plugins.mmseg']
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'FwIoUMetric'
    assert cfg.train_dataloader.dataset.type == 'CheckedConcatDataset'
    assert cfg.val_dataloader.dataset.type == cfg.test_dataloader.dataset.type == 'CheckedPascalVOCDataset'
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'  # upstream weights kept; not fetched here
    model_cfg = no_sync_bn(cfg.model.to_dict())
    model_cfg['pretrained'] = None
    with DefaultScope.overwrite_default_scope('mmseg'), torch.device('meta'):
        model = MODELS.build(model_cfg)
    block, where = block_of(path)
    inserted = [n for n in dict(model.named_modules()) if n.startswith('backbone.layer3.') and '_before_' in n
                and n.count('.') == 2]
    if where == 'plugin':  # one block in every bottleneck of res4, after conv3 (mmseg's plugin names)
        assert inserted == [] and model.backbone.plugins
        plugins = [n for n, m in model.named_modules() if type(m).__name__ == block]
        assert plugins == [f'backbone.layer3.{i}.{block.lower()}' for i in range(6)]
        assert all(model.get_submodule(n).in_channels == 1024 for n in plugins)
    elif where == 'head':
        assert type(model.decode_head).__name__ == 'NonlocalHead' and inserted == []
        assert type(model.decode_head.nl_block).__name__ == block and model.decode_head.nl_block.in_channels == 512
    elif block is None:
        assert inserted == []
        if 'nonlocal' in path:
            assert type(model.decode_head).__name__ == 'NLHead'  # mmseg's own peer
    else:  # before the last residual block of res4 (ResNet-50's layer3 has 6: index 5)
        assert inserted == [f'backbone.layer3.{block.lower()}_before_5']
        blk = model.get_submodule(inserted[0])
        assert type(blk).__name__ == block and blk.in_channels == 1024
        assert list(model.backbone.layer3._modules)[-2:] == [f'{block.lower()}_before_5', '5']
        assert model.backbone.depth == 50
    if '-d16' in path:  # the paper's setting (appendix C; docs/segmentation.md)
        assert model.backbone.strides == (1, 2, 2, 1) and model.backbone.dilations == (1, 1, 1, 2)
        assert model.decode_head.dilations == (1, 6, 12, 18) and not model.with_auxiliary_head
        assert cfg.crop_size == (513, 513) and cfg.model.data_preprocessor.size == (513, 513)
        assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.007, momentum=0.9, weight_decay=5e-4,
                                                   nesterov=False)
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys == {'decode_head': dict(lr_mult=10.0)}
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_cfg.max_iters == 50 * 2646 and cfg.param_scheduler[0].type == 'PolyLR'
        assert cfg.param_scheduler[0].power == 0.9 and cfg.param_scheduler[0].end == cfg.train_cfg.max_iters
        ds = cfg.train_dataloader.dataset.datasets
        assert [d.data_prefix.seg_map_path for d in ds] == ['SegmentationClass', 'SegmentationClassAug']
        assert any(t.type == 'RandomCrop' and t.crop_size == (513, 513) for t in ds[0].pipeline)
    else:  # mmseg's own VOC schedule, unmodified
        assert cfg.optim_wrapper.optimizer.lr == 0.01 and cfg.train_dataloader.batch_size == 4
        assert cfg.train_cfg.max_iters in (20000, 40000) and cfg.crop_size == (512, 512)
