"""End to end, mmseg's ``plugins=`` route (issue 17): a tiny config inheriting
``deeplabv3_r50-d8-snlplugin_4xb4-20k_voc12aug-512x512.py`` (ResNetV1c-50 at a quarter width, BN, crop 64, a narrow
head) trained for 2 iterations by tools/train.py on a tiny VOC2012 copy, tested by tools/test.py from the saved
checkpoint, and that checkpoint exported by tools/deploy/export_onnx.py in its OpenMMLab form (CONFIG CHECKPOINT,
dynamic batch and H x W), checked by ONNX Runtime. About 60-90 s on the 2-core machine."""
import json
from pathlib import Path

import pytest

from fixtures.configs import tiny_seg_config
from fixtures.tools import check, run_tool, scalars
from fixtures.voc import write_voc

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PLUGIN_CFG = ROOT / 'configs/segmentation/deeplabv3/deeplabv3_r50-d8-snlplugin_4xb4-20k_voc12aug-512x512.py'


# the plugin itself (SNL after conv3 of every res4 unit) as the config has it, in a ResNetV1c-50 at a quarter width
PLUGIN_MODEL = """\
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(base_channels=16, stem_channels=16, norm_cfg=norm_cfg,
                  plugins=[dict(cfg=dict(type='SNL', reduction=2, norm_cfg=norm_cfg),
                                stages=(False, False, True, False), position='after_conv3')]),
    decode_head=dict(in_channels=512, channels=32, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=256, channels=16, norm_cfg=norm_cfg))
"""
TRAIN_PIPELINE = """[
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75), dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs')]"""
TEST_PIPELINE = "[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]"


def test_plugin_config_trains_tests_and_exports(tmp_path):
    data = write_voc(tmp_path / 'data', n_train=4, n_val=2, size=[(64, 72), (70, 64)])
    cfg = tiny_seg_config(tmp_path / 'tiny_deeplabv3_snlplugin.py', data, PLUGIN_CFG, iters=2, model=PLUGIN_MODEL,
                          train_pipeline=TRAIN_PIPELINE, test_pipeline=TEST_PIPELINE)
    work = tmp_path / 'work'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert 'Iter(train) [2/2]' in out and (work / 'iter_2.pth').is_file()
    assert any('mIoU' in s for s in scalars(work))
    import torch
    state = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    blocks = sorted({k.split('.snl.')[0] for k in state if '.snl.' in k})
    assert blocks == [f'backbone.layer3.{i}' for i in range(6)]
    # the blocks trained: their norms left zero, which the identity start had
    assert any(float(state[f'{b}.snl.norm.weight'].abs().max()) > 0 for b in blocks)

    out = check(run_tool('tools/test.py', cfg, work / 'iter_2.pth', '--work-dir', tmp_path / 'test_wd'))
    assert 'mIoU' in out

    onnx_file = tmp_path / 'deeplabv3_snlplugin.onnx'
    out = check(run_tool('tools/deploy/export_onnx.py', cfg, work / 'iter_2.pth', '--out', onnx_file, '--shape',
                         '1', '3', '64', '72', '--dynamic-batch', '--dynamic-shape', '--json', tmp_path / 'r.json',
                         timeout=300))
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['ok'] and report['family'] == 'segmentor' and len(report['blocks']) == 6
    assert [c['output_shape'] for c in report['checks']] == [[1, 21, 64, 72], [2, 21, 80, 96]]
    assert 'OK:' in out and onnx_file.is_file()
