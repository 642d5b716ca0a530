"""ONNX export of every family (issue 17): timm SNL / gSNL classifiers and a classification config
(``TimmClassifier``), I3D + SNL and P3D + SNL (one clip), DeepLabV3 and DeepLabV3+ + SNL (whole image), the re-ID RTM
feature extractors (2D and 3D blocks) and VTN + SNL, each with the dense and the factorised block path: export,
``onnx.checker``, ONNX Runtime at two input shapes (another batch, and another H x W where the model takes one),
largest difference to eager under the tolerance. Then the other block types, the path a dynamic-shape export keeps,
the exporters, the command line's failure modes (tolerance exceeded, unknown timm name, missing checkpoint or config,
a shape that does not fit) and the benchmark.

Small models at small sizes (depth-18 hosts where the family has one; P3D exists from depth 50 and needs 16 frames
for its temporal pools): about 1-3 s per export here, ~70 s for the file on the 2-core machine.
"""
import json
import re
from pathlib import Path

import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

import snl_plugins  # noqa: E402,F401
from snl_plugins.deploy.cli import export_main  # noqa: E402
from snl_plugins.deploy.models import (activate_blocks, build_from_config, build_timm,  # noqa: E402
                                       set_block_path)
from snl_plugins.deploy.onnx_export import (ExportError, check_dynamic_axes, export_and_verify,  # noqa: E402
                                            export_onnx, verification_shapes)

from fixtures.tools import run_tool  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs'
# our VOC configs (ResNetV1c-50, SyncBN: BatchNorm in eval mode) with a ResNetV1c-18 and narrow heads
SEG_R18 = {'model.pretrained': None, 'model.backbone.module.depth': 18, 'model.decode_head.in_channels': 512,
           'model.decode_head.channels': 32, 'model.auxiliary_head.in_channels': 256,
           'model.auxiliary_head.channels': 16}
R18_HEAD = {'model.backbone.module.depth': 18, 'model.cls_head.in_channels': 512, 'model.cls_head.num_classes': 5}

# family -> (how to build a small model, export input, whether H x W can vary)
CASES = {
    'timm-resnet18_snl': (lambda: build_timm('resnet18_snl', num_classes=10), (1, 3, 64, 64), True),
    'timm-resnet18_gsnl': (lambda: build_timm('resnet18_gsnl', num_classes=10), (1, 3, 64, 64), True),
    'cls-config-preresnet20_gsnl': (lambda: build_from_config(
        str(CONFIGS / 'classification/preresnet/preresnet20-gsnl_1xb128-300e_cifar10.py')), (1, 3, 32, 32), True),
    'i3d-r18-snl': (lambda: build_from_config(
        str(CONFIGS / 'recognition/i3d/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py'),
        cfg_options={**R18_HEAD, 'model.backbone.module.inflate': 1, 'model.backbone.module.pretrained': None}),
        (1, 3, 8, 32, 32), True),
    'p3d-r50-snl': (lambda: build_from_config(
        str(CONFIGS / 'recognition/p3d/p3d_r50-snl_8xb8-16x2x1-100e_ucf101-split1-rgb.py'),
        cfg_options={'model.cls_head.num_classes': 5}), (1, 3, 16, 32, 32), True),
    'deeplabv3-r18-snl': (lambda: build_from_config(
        str(CONFIGS / 'segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'),
        cfg_options=SEG_R18), (1, 3, 48, 40), True),
    'deeplabv3plus-r18-snl': (lambda: build_from_config(
        str(CONFIGS / 'segmentation/deeplabv3plus/deeplabv3plus_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'),
        cfg_options={**SEG_R18, 'model.decode_head.c1_in_channels': 64, 'model.decode_head.c1_channels': 16}),
        (1, 3, 48, 40), True),
    'rtmtp-r18-snl': (lambda: build_from_config(
        str(CONFIGS / 'reid/rtmtp_r50-snl_1xp8k4-800e_mars.py'),
        cfg_options={'model.backbone.name': 'resnet18', 'model.pretrained': None, 'model.frame_size': (64, 32)}),
        (1, 4, 3, 64, 32), True),
    'rtmta-r18-snl3d': (lambda: build_from_config(
        str(CONFIGS / 'reid/rtmta_r50-snl3d_1xp8k4-800e_mars.py'),
        cfg_options={'model.backbone.name': 'resnet18', 'model.pretrained': None, 'model.frame_size': (64, 32)}),
        (1, 4, 3, 64, 32), False),
    'vtn-r18-snl': (lambda: build_from_config(
        str(CONFIGS / 'recognition/vtn/vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb.py'),
        cfg_options={'model.backbone.depth': 18, 'model.backbone.pretrained': None, 'load_from': None,
                     'model.cls_head.clip_len': 4, 'model.cls_head.num_classes': 5}), (1, 4, 3, 32, 32), True),
}
FAMILIES = {'timm-resnet18_snl': 'classifier', 'timm-resnet18_gsnl': 'classifier',
            'cls-config-preresnet20_gsnl': 'classifier', 'i3d-r18-snl': 'recognizer3d',
            'p3d-r50-snl': 'recognizer3d', 'deeplabv3-r18-snl': 'segmentor', 'deeplabv3plus-r18-snl': 'segmentor',
            'rtmtp-r18-snl': 'reid', 'rtmta-r18-snl3d': 'reid', 'vtn-r18-snl': 'recognizer2d'}


@pytest.fixture(scope='module')
def models():
    """Each case built once (a few seconds for the mmaction2 / mmseg imports), its blocks' norms set to 1 so the
    comparison sees them (they start as the identity)."""
    cache = {}

    def get(case):
        if case not in cache:
            torch.manual_seed(0)
            inference = CASES[case][0]()
            assert activate_blocks(inference.module) >= 1
            cache[case] = inference
        return cache[case]
    return get


@pytest.mark.parametrize('path', ['dense', 'factorised'])
@pytest.mark.parametrize('case', list(CASES))
def test_every_family_exports_and_matches_eager(models, case, path, tmp_path):
    inference = models(case)
    _, shape, spatial = CASES[case]
    assert inference.family == FAMILIES[case]
    result = export_and_verify(inference, str(tmp_path / f'{case}.onnx'), shape=shape, dynamic_batch=True,
                               dynamic_shape=spatial, block_path=path)
    assert result.ok, result.summary()
    assert [b['form'] for b in result.blocks] and all(b['form'] == path for b in result.blocks), result.summary()
    first, second = (c.input_shape for c in result.checks)
    assert first == list(shape) and second[0] == shape[0] + 1
    if spatial:  # another H x W as well
        axes = inference.spatial_axes
        assert all(second[a] > shape[a] for a in axes)
    for check in result.checks:
        assert check.max_abs_diff <= check.tolerance and check.max_abs_eager > 0
    if inference.family == 'segmentor':  # whole-image logits at the input's size
        assert result.checks[1].output_shape[2:] == second[2:]
    meta = _metadata(result.path)
    assert meta['snl_plugins.family'] == inference.family and json.loads(meta['snl_plugins.block_paths'])


@pytest.mark.parametrize('name, kwargs, size', [
    ('resnet18_nl', {}, 64), ('resnet18_ns', {}, 64), ('resnet18_a2', {}, 64), ('resnet18_cgnl', {}, 64),
    ('preresnet20_gsnl', dict(nl_units=3), 32)])
def test_every_block_type_exports(name, kwargs, size, tmp_path):
    """The baselines (NL / NS with a fused softmax, A2, CGNL) and a gSNL stage of 3 units (SP3), dynamic batch and
    H x W, with the default (TorchScript) exporter."""
    torch.manual_seed(0)
    inference = build_timm(name, num_classes=10, **kwargs)
    activate_blocks(inference.module)
    result = export_and_verify(inference, str(tmp_path / f'{name}.onnx'), shape=(1, 3, size, size),
                               dynamic_batch=True, dynamic_shape=True)
    assert result.ok, result.summary()


def _metadata(path):
    import onnx
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def test_family_outputs_are_what_the_model_predicts(models):
    """The recognizer's exported output is the ``pred_score`` mmaction2's ``predict`` gives for one clip, the
    segmentor's is ``encode_decode``'s logits (argmax: the label map), the re-ID output the test feature."""
    from mmaction.structures import ActionDataSample
    inference = models('i3d-r18-snl')
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        samples = inference.module.recognizer.predict(x.unsqueeze(1), [ActionDataSample() for _ in range(2)])
        torch.testing.assert_close(inference.module(x), torch.stack([s.pred_score for s in samples]))
    seg = models('deeplabv3-r18-snl')
    x = torch.randn(1, 3, 45, 61)
    with torch.no_grad():
        logits = seg.module.segmentor.encode_decode(x, [dict(img_shape=(45, 61))])
        torch.testing.assert_close(seg.module(x), logits)
    reid = models('rtmtp-r18-snl')
    x = torch.randn(2, 4, 3, 64, 32)
    with torch.no_grad():
        torch.testing.assert_close(reid.module(x), reid.module.model(x, mode='tensor'))


def test_reid_temporal_attention_refuses_a_dynamic_shape(models, tmp_path):
    with pytest.raises(ValueError, match='RTMta.*without --dynamic-shape'):
        export_and_verify(models('rtmta-r18-snl3d'), str(tmp_path / 'ta.onnx'), shape=(1, 4, 3, 64, 32),
                          dynamic_shape=True)


def _op_counts(path):
    import collections

    import onnx
    return collections.Counter(n.op_type for n in onnx.load(path).graph.node)


def test_auto_path_is_chosen_at_export_and_kept_at_every_size(tmp_path):
    """``path='auto'`` resolves for the export input (dense at 64 x 64: N = 16 <= 2 Cs = 64; factorised at 160 x 160:
    N = 100), and the graph is the one of that path: the same operators as a forced export, and it runs (dense) at
    a size where eager takes the factorised path."""
    torch.manual_seed(0)
    inference = build_timm('resnet18_snl', num_classes=10, nl_cfg=dict(reduction=8))  # Cs = 32
    activate_blocks(inference.module)
    counts = {}
    for path, size in (('auto', 64), ('dense', 64), ('factorised', 64), ('auto', 160)):
        out = str(tmp_path / f'{path}_{size}.onnx')
        result = export_and_verify(inference, out, shape=(1, 3, size, size), dynamic_batch=True, dynamic_shape=True,
                                   block_path=path, verify_shape=(2, 3, 176, 176) if size == 64 else None)
        assert result.ok, result.summary()
        counts[path, size] = _op_counts(out)
        assert result.blocks[0]['form'] == {('auto', 64): 'dense', ('auto', 160): 'factorised'}.get(
            (path, size), path)
    assert counts['auto', 64] == counts['dense', 64] != counts['factorised', 64]
    assert counts['auto', 160] == counts['factorised', 64]  # the same graph, traced at another size
    set_block_path(inference.module, 'auto')


@pytest.mark.parametrize('path, dynamic', [('factorised', True), ('dense', False), ('dense', True)])
def test_dynamo_exporter(tmp_path, path, dynamic):
    """torch.export-based export of a timm SNL model (dynamic batch and H x W, or static)."""
    torch.manual_seed(0)
    inference = build_timm('resnet18_snl', num_classes=10)
    activate_blocks(inference.module)
    result = export_and_verify(inference, str(tmp_path / f'{path}.onnx'), shape=(1, 3, 64, 64),
                               dynamic_batch=dynamic, dynamic_shape=dynamic, exporter='dynamo', block_path=path)
    assert result.ok and result.blocks[0]['form'] == path, result.summary()


def test_a_fixed_dynamic_axis_is_an_error(tmp_path):
    """A graph whose input kept the export batch although a dynamic one was asked (what torch.export does silently
    where model code makes the size a constant) is refused with a message naming the axis."""
    inference = build_timm('resnet18_snl', num_classes=10)
    out = export_onnx(inference, str(tmp_path / 'static.onnx'), shape=(1, 3, 32, 32))
    with pytest.raises(ExportError, match=r'fixed axis 0 \(batch\) to 1'):
        check_dynamic_axes(out, inference, dynamic_batch=True, dynamic_shape=False, exporter='dynamo')


def test_verification_shapes():
    inference = build_timm('resnet18_snl', num_classes=10)
    assert verification_shapes(inference, (1, 3, 64, 64), True, True) == [(1, 3, 64, 64), (2, 3, 80, 80)]
    assert verification_shapes(inference, (2, 3, 64, 48), False, False) == [(2, 3, 64, 48)] * 2
    with pytest.raises(ValueError, match='axes \\[0\\], which the graph keeps fixed'):
        verification_shapes(inference, (1, 3, 64, 64), False, True, verify_shape=(2, 3, 64, 64))
    with pytest.raises(ValueError, match='takes N x C x H x W images, 4 positive sizes'):
        verification_shapes(inference, (1, 3, 64), False, False)


# ----------------------------------------------------------------------------------------------- command line
@pytest.fixture(scope='module')
def timm_checkpoint(tmp_path_factory):
    """A state dict of resnet18_snl (10 classes) with active blocks, as a user's training would leave."""
    torch.manual_seed(0)
    model = build_timm('resnet18_snl', num_classes=10).module.model
    activate_blocks(model)
    path = tmp_path_factory.mktemp('ckpt') / 'resnet18_snl.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_cli_timm_form(timm_checkpoint, tmp_path, capsys):
    out = tmp_path / 'r18.onnx'
    status = export_main(['--timm', 'resnet18_snl', '--checkpoint', str(timm_checkpoint), '--model-args',
                          'num_classes=10', '--out', str(out), '--shape', '1', '3', '64', '64', '--dynamic-batch',
                          '--dynamic-shape', '--block-path', 'factorised', '--json', str(tmp_path / 'r.json')])
    text = capsys.readouterr().out
    assert status == 0 and out.is_file() and 'OK:' in text, text
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['ok'] and [c['input_shape'] for c in report['checks']] == [[1, 3, 64, 64], [2, 3, 80, 80]]
    assert report['blocks'][0]['form'] == 'factorised'


def test_cli_fails_when_the_tolerance_is_exceeded(timm_checkpoint, tmp_path):
    """The tool itself, as a user runs it: a zero tolerance cannot hold (ONNX Runtime's kernels round differently
    from torch's), so the export is reported and the exit status is 1."""
    proc = run_tool('tools/deploy/export_onnx.py', '--timm', 'resnet18_snl', '--checkpoint', timm_checkpoint,
                    '--model-args', 'num_classes=10', '--out', tmp_path / 'r18.onnx', '--shape', '1', '3', '32', '32',
                    '--atol', '0', '--rtol', '0', timeout=180)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'EXCEEDED' in proc.stdout
    assert re.search(r'error: ONNX Runtime differs from PyTorch eager by [\d.e-]+ at input \[1, 3, 32, 32\], above '
                     r'the tolerance 0', proc.stderr), proc.stderr


def test_cli_bad_input(tmp_path, capsys):
    def run(*argv):
        status = export_main(list(argv) + ['--out', str(tmp_path / 'x.onnx')])
        return status, capsys.readouterr().err

    status, err = run('--timm', 'resnet18_snll')
    assert status == 2 and "unknown timm model 'resnet18_snll'" in err and 'Did you mean resnet18_snl' in err
    assert 'This package registers: ' in err and 'resnet50_gsnl' in err and 'preresnet56_snl' in err
    missing = tmp_path / 'nowhere' / 'model.pth'
    status, err = run('--timm', 'resnet18_snl', '--checkpoint', str(missing))
    assert status == 2 and f'Checkpoint not found: {missing}' in err
    config = CONFIGS / 'segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'
    status, err = run(str(config), str(missing))
    assert status == 2 and f'Checkpoint not found: {missing}' in err
    status, err = run(str(tmp_path / 'no_config.py'), str(missing))
    assert status == 2 and f'Config file not found: {tmp_path / "no_config.py"}' in err
    status, err = run('--timm', 'resnet18_snl', '--shape', '1', '3', '64')
    assert status == 2 and 'does not fit resnet18_snl (classifier): it takes N x C x H x W' in err
    with pytest.raises(SystemExit):  # argparse: neither form
        export_main(['--out', str(tmp_path / 'x.onnx')])
    assert 'give either CONFIG CHECKPOINT or --timm NAME' in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------- benchmark
def test_benchmark_writes_its_table_and_json(tmp_path, capsys):
    from snl_plugins.deploy.benchmark import PRESETS
    from snl_plugins.deploy.cli import benchmark_main
    out = tmp_path / 'bench'
    status = benchmark_main(['--timm', 'resnet18_snl', '--shape', '1', '3', '32', '32', '--repeats', '2',
                             '--work-dir', str(tmp_path), '--out', str(out)], root=str(ROOT))
    assert status == 0
    report = json.loads(Path(f'{out}.json').read_text())
    (row,) = report['rows']
    assert row['family'] == 'classifier' and row['input'] == [1, 3, 32, 32] and row['ok']
    assert len(row['times_s']['eager']) == len(row['times_s']['onnxruntime']) == 2
    assert row['eager_ms'] > 0 and row['onnxruntime_ms'] > 0 and report['threads'] == 1
    table = Path(f'{out}.md').read_text()
    assert '| resnet18_snl | classifier | 1x3x32x32 | dense |' in table and table in capsys.readouterr().out
    assert all((ROOT / p['config']).is_file() for p in PRESETS if 'config' in p)  # the presets' configs exist
    with pytest.raises(SystemExit):
        benchmark_main(['--models', 'nope'])
    assert 'unknown preset(s) nope; the presets are: resnet50_snl' in capsys.readouterr().err
