#!/usr/bin/env python
"""The precision matrix at user sizes: every block and path x input size x input scale x precision mode, against the
same block in float64 (``snl_plugins.analysis.precision``). Writes ``precision.json`` and ``precision.md`` under
``--out``.

    python tools/analysis/precision_matrix.py --out docs/precision                     # CPU, the documented run
    python tools/analysis/precision_matrix.py --device cuda --modes float32 tf32 autocast-float16 \
        autocast-bfloat16 half bfloat16 --out work_dirs/gpu_check/precision             # on a GPU
    python tools/analysis/precision_matrix.py --quick                                    # small sizes, a few cases
"""
import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from snl_plugins.analysis.precision import (CASES, MODES, REDUCED_MODES, run_matrix, to_markdown,  # noqa: E402
                                            tolerance_basis)

# B x C1 x spatial; N from 1024 to 16x56x56
USER_SHAPES = ['2x64x32x32', '1x64x64x64', '1x64x128x128', '1x64x8x28x28', '1x64x16x56x56']
QUICK_SHAPES = ['2x16x8x8', '2x16x2x4x4']
QUICK_CASES = ['SNL factorised', 'SNL dense', 'NL fused softmax', 'CGNL dot']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--modes', nargs='+', default=list(REDUCED_MODES), choices=list(MODES))
    parser.add_argument('--cases', nargs='+', choices=list(CASES))
    parser.add_argument('--shapes', nargs='+', help='B x C1 x spatial, e.g. 1x64x128x128 (default: user sizes)')
    parser.add_argument('--scales', nargs='+', type=float, default=[0.01, 1.0, 10.0, 100.0, 1000.0])
    parser.add_argument('--dense-limit', type=int, default=4096, help='largest N for the cases that hold N x N')
    parser.add_argument('--fused-limit', type=int, default=16384,
                        help='largest N for the fused softmax (N^2 time; float64 on a CPU: minutes at 128 x 128)')
    parser.add_argument('--quick', action='store_true', help='small sizes and a few cases (a smoke run)')
    parser.add_argument('--out', default='work_dirs/precision')
    parser.add_argument('--render', metavar='JSON', help='write precision.md from an earlier run\'s precision.json')
    args = parser.parse_args(argv)
    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        print(write_markdown(data['meta'], data['rows'], args.out))
        return
    shapes = args.shapes or (QUICK_SHAPES if args.quick else USER_SHAPES)
    cases = args.cases or (QUICK_CASES if args.quick else list(CASES))
    t0 = time.perf_counter()
    rows = run_matrix(cases, [tuple(int(v) for v in s.split('x')) for s in shapes], args.scales, args.modes,
                      args.device, dict(dense=args.dense_limit, fused=args.fused_limit),
                      log=lambda m: print(m, flush=True))
    seconds = time.perf_counter() - t0
    import torch
    device = torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor() or 'CPU'
    meta = dict(command=' '.join(sys.argv), device=device, torch=torch.__version__, threads=torch.get_num_threads(),
                seconds=round(seconds, 1), load=os.getloadavg())
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'precision.json'), 'w') as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    print(write_markdown(meta, rows, args.out))


def write_markdown(meta: dict, rows: list, out: str) -> str:
    """precision.md: the run, counts per basis (``tolerance_basis``) and the table."""
    measured = [r for r in rows if 'skipped' not in r]
    bases = Counter(tolerance_basis(r) for r in measured)
    md = (f"Command: `{meta['command']}`. Device: {meta['device']}; torch {meta['torch']}, {meta['threads']} "
          f"threads; {meta['seconds']:.0f} s; load {meta['load'][0]:.1f}.\n\n{len(measured)} rows: "
          f"{bases['tolerance']} within the tolerances, {bases['ill-conditioned']} only within the mode's unit "
          f"roundoff times float32's error (the case's conditioning), {bases['stored input']} only within "
          f"what storing the input and weights in the dtype costs, {bases['outside']} outside.\n\n"
          + to_markdown(rows))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'precision.md'), 'w') as f:
        f.write(md)
    return md


if __name__ == '__main__':
    main()
