"""NonlocalHead with every block, sliding-window and whole-image inference with blocks inside on an odd size, and the
mask checks (transform and checked data sets) naming the offending file."""
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('mmseg')
from mmengine.config import ConfigDict  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import snl_plugins.mmseg  # noqa: E402,F401
from snl_plugins.mmseg import CheckSegMaps, NonlocalHead, SegMapError  # noqa: E402

from fixtures.voc import write_voc, write_voc_mask  # noqa: E402

BLOCK_TYPES = ['SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL', 'NonlocalStage']


@pytest.fixture(autouse=True)
def mmseg_scope():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
    torch.set_num_threads(threads)


def build(cfg):
    from mmseg.registry import MODELS
    return MODELS.build(cfg)


def head_cfg(block, **kw):
    return dict(type='NonlocalHead', block=block, in_channels=24, in_index=0, channels=16, num_classes=5,
                norm_cfg=dict(type='BN'), dropout_ratio=0.1, align_corners=False, **kw)


@pytest.mark.parametrize('block', BLOCK_TYPES)
def test_head_takes_every_block_on_any_size(block):
    cfg = dict(type=block) if block != 'CGNL' else dict(type=block, groups=2)
    head = build(head_cfg(cfg))
    assert isinstance(head, NonlocalHead) and type(head.nl_block).__name__ == block
    assert head.nl_block.in_channels == 16
    out = head([torch.randn(2, 24, 7, 5)])
    assert out.shape == (2, 5, 7, 5)
    out.sum().backward()
    assert head.convs[0].conv.weight.grad is not None


def test_head_block_options_and_norm():
    head = build(head_cfg(dict(type='SNL', reduction=4, relu=True, zero_init=False), concat_input=True))
    assert head.nl_block.inter_channels == 4 and head.nl_block.relu and not head.nl_block.zero_init
    assert isinstance(head.nl_block.norm, torch.nn.BatchNorm2d)  # from the head's norm_cfg
    assert head([torch.randn(1, 24, 6, 6)]).shape == (1, 5, 6, 6)
    with pytest.raises(ValueError, match='num_convs'):
        build(head_cfg(dict(type='SNL'), num_convs=1))
    with pytest.raises(ValueError, match='type'):
        build(head_cfg(dict(reduction=2)))


def tiny_segmentor(mode, **test_cfg):
    return build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='InjectNonlocal',
                      module=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                                  dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'),
                                  contract_dilation=True),
                      blocks=[dict(type='SNL', at='layer3.-1', position='before')]),
        decode_head=dict(type='NonlocalHead', block=dict(type='gSNL'), in_channels=512, in_index=3, channels=16,
                         num_classes=3, norm_cfg=dict(type='BN'), align_corners=False),
        test_cfg=ConfigDict(mode=mode, **test_cfg)))


@pytest.mark.parametrize('mode,test_cfg', [('whole', {}), ('slide', dict(crop_size=(32, 32), stride=(21, 21)))])
def test_inference_with_blocks_inside_on_an_odd_size(mode, test_cfg):
    torch.manual_seed(0)
    model = tiny_segmentor(mode, **test_cfg).eval()
    calls = []
    for name, m in model.named_modules():
        if name in ('backbone.layer3.snl_before_1', 'decode_head.nl_block'):
            m.register_forward_hook(lambda mod, a, out, name=name: calls.append((name, tuple(a[0].shape[2:]))))
    h, w = 45, 37
    meta = dict(ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w), padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        logits = model.inference(torch.randn(1, 3, h, w), [meta])
    assert logits.shape == (1, 3, h, w) and torch.isfinite(logits).all()
    names = {n for n, _ in calls}
    assert names == {'backbone.layer3.snl_before_1', 'decode_head.nl_block'}
    if mode == 'slide':  # 2 x 2 windows of 32 x 32 at stride 21 over 45 x 37 -> 4 windows, each 4 x 4 at stride 8
        assert len(calls) == 8 and {s for _, s in calls} == {(4, 4)}
    else:  # the whole odd-sized image: ceil(45 / 8) x ceil(37 / 8)
        assert {s for _, s in calls} == {(6, 5)}


# ----------------------------------------------------------------------------------------------- mask checks
def results(seg, shape=None):
    return dict(gt_seg_map=seg, ori_shape=shape or seg.shape, img_shape=shape or seg.shape,
                seg_map_path='/d/SegmentationClass/x.png', img_path='/d/JPEGImages/x.jpg')


def test_check_transform_accepts_valid_masks():
    seg = np.array([[0, 20, 255], [3, 4, 5]], np.uint8)
    assert CheckSegMaps(21)(results(seg))['gt_seg_map'] is seg
    assert CheckSegMaps(21)(dict(img_path='a.jpg')) == dict(img_path='a.jpg')  # no mask loaded (inference)


def test_check_transform_names_the_file():
    with pytest.raises(SegMapError, match=r'/d/SegmentationClass/x\.png.* 21 classes .*: 21, 200 in 2 pixels'):
        CheckSegMaps(21)(results(np.array([[0, 21, 255], [200, 4, 5]], np.uint8)))
    with pytest.raises(SegMapError, match=r'mask /d/SegmentationClass/x\.png is 2x3 .* image /d/JPEGImages/x\.jpg '
                                          r'is 3x3'):
        CheckSegMaps(21)(results(np.zeros((2, 3), np.uint8), shape=(3, 3)))
    with pytest.raises(SegMapError, match='255'):  # 255 is a label when the ignore index is something else
        CheckSegMaps(21, ignore_index=0)(results(np.array([[255]], np.uint8)))


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    root = write_voc(tmp_path_factory.mktemp('voc'), n_train=3, n_val=2, size=[(45, 37), (40, 52)])
    return Path(root)


def voc_dataset(root, type='CheckedPascalVOCDataset', split='train'):
    from mmseg.registry import DATASETS
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 32), keep_ratio=True),
                dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    return DATASETS.build(dict(type=type, data_root=str(root), ann_file=f'ImageSets/Segmentation/{split}.txt',
                               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                               pipeline=pipeline))


def test_checked_datasets_pass_good_data_and_name_bad_files(voc, tmp_path):
    import shutil
    ds = voc_dataset(voc)
    assert [type(t).__name__ for t in ds.pipeline.transforms] == [
        'LoadImageFromFile', 'Resize', 'LoadAnnotations', 'CheckSegMaps', 'PackSegInputs']
    assert ds.pipeline.transforms[3].num_classes == 21
    assert all(ds[i]['data_samples'].gt_sem_seg.data.shape[1:] == ds[i]['data_samples'].ori_shape for i in range(3))

    bad = tmp_path / 'VOC2012'
    shutil.copytree(voc, bad)
    write_voc_mask(bad / 'SegmentationClass' / '2007_000001.png', np.full((40, 52), 21, np.uint8))  # right size
    write_voc_mask(bad / 'SegmentationClass' / '2007_000002.png', np.zeros((44, 37), np.uint8))  # 45 x 37 image
    ds = voc_dataset(bad)
    ds[0]
    with pytest.raises(SegMapError, match=str(bad / 'SegmentationClass' / '2007_000001.png') + '.*: 21 in 2080'):
        ds[1]
    with pytest.raises(SegMapError, match=str(bad / 'SegmentationClass' / '2007_000002.png') + ' is 44x37'):
        ds[2]
    concat = __import__('mmseg.registry', fromlist=['DATASETS']).DATASETS.build(dict(
        type='CheckedConcatDataset', datasets=[voc_dataset(voc, 'PascalVOCDataset'),
                                               voc_dataset(bad, 'PascalVOCDataset')]))
    assert all(any(isinstance(t, CheckSegMaps) for t in d.pipeline.transforms) for d in concat.datasets)
    concat[0]
    with pytest.raises(SegMapError, match='2007_000002.png'):
        concat[5]
