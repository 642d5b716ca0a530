"""The command lines of ``tools/deploy/export_onnx.py`` and ``tools/deploy/benchmark_onnx.py``.

Exit status of the export: 0 when every ONNX Runtime output is within the tolerance of eager; 1 when one is not,
``onnx.checker`` rejects the file, or the exporter wrote a graph that fixed an axis asked to be dynamic; 2 for a bad
command line or input (unknown timm name, missing config or checkpoint, a shape that does not fit the model), each
with one line naming the problem.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

from .models import BLOCK_PATHS

__all__ = ['parse_export_args', 'export_main', 'parse_benchmark_args', 'benchmark_main']

EXPORT_USAGE = '''export_onnx.py CONFIG CHECKPOINT --out model.onnx [--shape N C H W] [--dynamic-batch]
                      [--dynamic-shape] [options]
       export_onnx.py --timm resnet50_snl [--checkpoint FILE] [--model-args k=v ...] --out model.onnx [options]'''


def _dict_action():
    from mmengine.config import DictAction
    return DictAction


def parse_export_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from .onnx_export import DEFAULT_ATOL, DEFAULT_RTOL, EXPORTERS
    parser = argparse.ArgumentParser(
        prog='export_onnx.py', usage=EXPORT_USAGE,
        description='Export the inference model of a config + checkpoint (classification, mmaction2 recognizers, '
        'mmseg segmentors, re-ID) or of a timm model name to ONNX; check it with onnx.checker and compare ONNX '
        'Runtime with PyTorch eager at the export input and at a second input of another batch (and H x W with '
        '--dynamic-shape). Exits 1 when the difference exceeds the tolerance.')
    parser.add_argument('config', nargs='?', help='an mmengine config (as tools/test.py takes)')
    parser.add_argument('checkpoint', nargs='?', help='its checkpoint (.pth of the Runner, or a plain state dict)')
    parser.add_argument('--timm', metavar='NAME', help='a timm model name instead of a config, e.g. resnet50_snl')
    parser.add_argument('--checkpoint', dest='timm_checkpoint', metavar='FILE',
                        help='with --timm: weights to load (a state dict or a Runner / TimmClassifier checkpoint); '
                        'without, the model has random weights')
    parser.add_argument('--model-args', nargs='+', action=_dict_action(), default={}, metavar='K=V',
                        help='with --timm: keyword arguments of timm.create_model, e.g. num_classes=100 nl_units=3')
    parser.add_argument('--cfg-options', nargs='+', action=_dict_action(), default=None, metavar='K=V',
                        help='with a config: override its settings, as tools/test.py')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', nargs='+', type=int, metavar='SIZE',
                        help='the export input, batch first: N C H W (images), N C T H W (3D recognizers, one clip), '
                        'N T C H W (2D recognizers such as VTN, re-ID); default: from the config\'s test pipeline or '
                        'the timm model\'s input size')
    parser.add_argument('--dynamic-batch', action='store_true', help='a symbolic batch axis')
    parser.add_argument('--dynamic-shape', action='store_true', help='symbolic H and W')
    parser.add_argument('--block-path', choices=BLOCK_PATHS, default='config',
                        help='the affinity path of every SNL / gSNL / NL block before export: as configured (default), '
                        'auto (dense or factorised by the export input\'s size), dense, factorised. The path taken at '
                        'the export size is the one the graph keeps at every size (docs/deploy.md)')
    parser.add_argument('--exporter', choices=EXPORTERS, default='torchscript',
                        help='torch.onnx.export with dynamo=False (torchscript, default: every family exports) or '
                        'dynamo=True (torch.export; see docs/deploy.md for what it does not export)')
    parser.add_argument('--opset', type=int, help='ONNX opset (default: 17 with torchscript, the dynamo default)')
    parser.add_argument('--verify-shape', nargs='+', type=int, metavar='SIZE',
                        help='the second input\'s shape (default: batch + 1 with --dynamic-batch, H and W x 1.25 with '
                        '--dynamic-shape)')
    parser.add_argument('--atol', type=float, default=DEFAULT_ATOL, help='absolute tolerance (default %(default)g)')
    parser.add_argument('--rtol', type=float, default=DEFAULT_RTOL,
                        help='relative tolerance, of the largest |eager| output (default %(default)g)')
    parser.add_argument('--seed', type=int, default=0, help='of the random inputs')
    parser.add_argument('--json', metavar='FILE', help='also write the report as JSON')
    args = parser.parse_args(argv)
    if (args.timm is None) == (args.config is None):
        parser.error('give either CONFIG CHECKPOINT or --timm NAME')
    if args.config is not None and args.checkpoint is None:
        parser.error('CONFIG needs its CHECKPOINT (a .pth): the exported model is the trained one')
    if args.timm is None and (args.timm_checkpoint or args.model_args):
        parser.error('--checkpoint and --model-args go with --timm; a config takes CHECKPOINT and --cfg-options')
    if args.timm is not None and args.cfg_options:
        parser.error('--cfg-options goes with a CONFIG; a timm model takes --model-args')
    if args.atol < 0 or args.rtol < 0:
        parser.error(f'tolerances must be >= 0, got --atol {args.atol} --rtol {args.rtol}')
    return args


def _fail(prog: str, message: str, status: int) -> int:
    print(f'{prog}: error: {message}', file=sys.stderr)
    return status


def export_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/deploy/export_onnx.py``; returns the exit status (see the module docstring)."""
    from .models import build_from_config, build_timm
    from .onnx_export import ExportError, ToleranceError, export_and_verify
    prog = 'export_onnx.py'
    args = parse_export_args(argv)
    try:
        if args.timm is not None:
            inference = build_timm(args.timm, args.timm_checkpoint, **args.model_args)
            if args.timm_checkpoint is None:
                print(f'note: no --checkpoint: {args.timm} has random weights', file=sys.stderr)
        else:
            inference = build_from_config(args.config, args.checkpoint, cfg_options=args.cfg_options)
    except (FileNotFoundError, ValueError, KeyError, TypeError, ImportError) as err:
        return _fail(prog, str(err).strip('"\''), 2)
    try:
        result = export_and_verify(inference, args.out, shape=args.shape, dynamic_batch=args.dynamic_batch,
                                   dynamic_shape=args.dynamic_shape, exporter=args.exporter,
                                   block_path=args.block_path, opset=args.opset, verify_shape=args.verify_shape,
                                   atol=args.atol, rtol=args.rtol, seed=args.seed)
    except (ValueError, ImportError) as err:
        return _fail(prog, str(err), 2)
    except ExportError as err:
        return _fail(prog, str(err), 1)
    print(result.summary())
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result.to_dict(), f, indent=1)
    try:
        result.raise_for_tolerance()
    except ToleranceError as err:
        return _fail(prog, str(err), 1)
    print(f'OK: {args.out} runs in ONNX Runtime within the tolerance of PyTorch eager')
    return 0


def parse_benchmark_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from .benchmark import PRESETS
    parser = argparse.ArgumentParser(
        prog='benchmark_onnx.py',
        description='ONNX Runtime (CPU) latency against PyTorch eager for the same input, one model of each family '
        '(or those given), measured side by side in one process: the two alternate, a warm-up call each, then '
        '--repeats rounds; medians. Writes OUT.json and OUT.md.')
    parser.add_argument('--models', nargs='+', metavar='KEY',
                        help=f'presets to run (default: all): {", ".join(p["key"] for p in PRESETS)}')
    parser.add_argument('--timm', nargs='+', default=[], metavar='NAME', help='timm names to add')
    parser.add_argument('--configs', nargs='+', default=[], metavar='CONFIG', help='configs to add (random weights)')
    parser.add_argument('--shape', nargs='+', type=int, metavar='SIZE',
                        help='the input of the added --timm / --configs models, batch first (default: theirs)')
    parser.add_argument('--block-path', choices=BLOCK_PATHS, default='config',
                        help='set every block\'s path before export (default: as configured)')
    parser.add_argument('--repeats', type=int, default=5, help='timed rounds after the warm-up (default 5)')
    parser.add_argument('--threads', type=int, default=1, help='torch and ONNX Runtime intra-op threads (default 1)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_onnx', help='where the .onnx files go')
    parser.add_argument('--out', default='work_dirs/benchmark_onnx/benchmark_onnx',
                        help='OUT.json and OUT.md are written (default %(default)s)')
    args = parser.parse_args(argv)
    keys = [p['key'] for p in PRESETS]
    unknown = [m for m in args.models or () if m not in keys]
    if unknown:
        parser.error(f'unknown preset(s) {", ".join(unknown)}; the presets are: {", ".join(keys)}')
    if args.repeats < 1 or args.threads < 1:
        parser.error('--repeats and --threads must be >= 1')
    return args


def benchmark_main(argv: Optional[Sequence[str]] = None, root: Optional[str] = None) -> int:
    """``tools/deploy/benchmark_onnx.py``: prints the table, writes ``OUT.json`` and ``OUT.md``; returns 0 (1 where
    a model's ONNX output is outside the export tolerance, which the table marks)."""
    from .benchmark import PRESETS, custom_entries, markdown, run_benchmark
    args = parse_benchmark_args(argv)
    entries = [p for p in PRESETS if args.models is None or p['key'] in args.models]
    if args.models is None and (args.timm or args.configs):
        entries = []
    entries += custom_entries(args.timm, args.configs, args.shape)
    report = run_benchmark(entries, repeats=args.repeats, threads=args.threads, block_path=args.block_path,
                           work_dir=args.work_dir, root=root, command='python ' + ' '.join(sys.argv))
    table = markdown(report)
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + '.json', 'w') as f:
        json.dump(report, f, indent=1)
    with open(args.out + '.md', 'w') as f:
        f.write(table + '\n')
    print(f'wrote {args.out}.json and {args.out}.md')
    return 0 if all(r['ok'] for r in report['rows']) else 1
