#!/usr/bin/env python
"""What the mixed-precision design costs against the alternatives it was chosen over
(``snl_plugins.analysis.precision_cost``): forward + backward under autocast, every variant round-robin in one
process, medians. Prints a markdown table and writes ``precision_cost.{json,md,png}`` under ``--out``.

    python tools/analysis/precision_cost.py --out docs/precision       # the documented run (B 2, C1 512, 64 x 64)
    python tools/analysis/precision_cost.py --channels 32 --size 8 --repeats 1 --out /tmp/cost   # a smoke run
"""
import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from snl_plugins.analysis.common import matplotlib_pyplot, output_paths, save_figure, save_json  # noqa: E402
from snl_plugins.analysis.precision_cost import cost_markdown, measure_cost  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--channels', type=int, default=512)
    parser.add_argument('--size', type=int, default=64, help='H = W of the input')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1, help='CPU threads (1: the figures least disturbed by load)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='work_dirs/precision_cost')
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    rows = measure_cost(args.batch, args.channels, args.size, args.repeats, args.device)
    device = torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor() or 'CPU'
    meta = dict(command=' '.join(sys.argv), device=device, torch=torch.__version__, threads=torch.get_num_threads(),
                load=os.getloadavg(), batch=args.batch, channels=args.channels, size=args.size,
                repeats=args.repeats)
    md = (f"Command: `{meta['command']}`. Device: {device}; torch {meta['torch']}, {meta['threads']} threads; "
          f"load {meta['load'][0]:.1f}. B {args.batch}, C1 {args.channels}, {args.size} x {args.size}, forward + "
          f"backward, medians of {args.repeats} interleaved rounds.\n\n" + cost_markdown(rows))
    png, json_path = output_paths(args.out, 'precision_cost')
    save_json(dict(meta=meta, rows=rows), json_path)
    with open(os.path.join(args.out, 'precision_cost.md'), 'w') as f:
        f.write(md)
    plot(rows, png)
    print(md)


def plot(rows, path):
    fig, ax = matplotlib_pyplot().subplots(figsize=(8, 0.4 * len(rows) + 1))
    names = [r['variant'] for r in rows][::-1]
    ax.barh(names, [r['seconds'] * 1e3 for r in rows][::-1],
            color=['tab:green' if '(design)' in n else 'tab:gray' for n in names])
    ax.set_xlabel('forward + backward (ms)')
    ax.set_title('mixed-precision design (green) vs alternatives')
    save_figure(fig, path)


if __name__ == '__main__':
    main()
