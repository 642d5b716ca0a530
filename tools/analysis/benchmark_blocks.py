#!/usr/bin/env python
"""Forward+backward time and peak memory of every non-local block and path, with mmcv's and timm's non-local
blocks measured in the same run.

Each case runs in a fresh process: peak memory is the rise of the process's peak resident set during one
forward+backward (CPU), or ``torch.cuda.max_memory_allocated`` on a GPU; time is the median of ``--repeats``
forward+backward passes after a warm-up. The factorised SNL block's arithmetic rate is compared with a plain float32
matrix product measured in the same run. Prints markdown tables and saves a PNG plot.

    python tools/analysis/benchmark_blocks.py --out docs/benchmark_blocks            # the full sweep (~15 min, 2 cores)
    python tools/analysis/benchmark_blocks.py --crossover                             # dense vs factorised crossover
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SIZES_2D = (16, 32, 48, 64, 96, 128)
VARIANTS = {
    # name: (constructor source, needs mmcv / timm)
    'SNL factorised': "SNL(C, inter_channels=CS, path='factorised', dim=D, zero_init=False)",
    'SNL dense': "SNL(C, inter_channels=CS, path='dense', dim=D, zero_init=False)",
    'gSNL factorised': "gSNL(C, inter_channels=CS, path='factorised', dim=D, zero_init=False)",
    'gSNL dense': "gSNL(C, inter_channels=CS, path='dense', dim=D, zero_init=False)",
    'NL fused (SDPA)': "NL(C, inter_channels=CS, dim=D, zero_init=False)",
    'NL dense': "NL(C, inter_channels=CS, path='dense', dim=D, zero_init=False)",
    'NS fused (SDPA)': "NS(C, inter_channels=CS, dim=D, zero_init=False)",
    'A2': "A2(C, inter_channels=CS, dim=D, zero_init=False)",
    'CGNL': "CGNL(C, inter_channels=CS, dim=D, zero_init=False)",
    'mmcv NonLocal (emb. Gaussian)': "(NonLocal2d if D == 2 else NonLocal3d)(C, reduction=C // CS, use_scale=True, "
                                     "mode='embedded_gaussian')",
    'timm NonLocalAttn': "NonLocalAttn(C, rd_channels=CS)",
}
DENSE_LIKE = ('SNL dense', 'gSNL dense', 'NL dense', 'mmcv NonLocal (emb. Gaussian)', 'timm NonLocalAttn')

_CASE = r'''
import json, resource, statistics, sys, time
import torch
spec = json.loads(sys.argv[1])
torch.manual_seed(0)
from snl_plugins import SNL, gSNL, NL, NS, A2, CGNL
if 'NonLocal2d' in spec['ctor'] or 'NonLocal3d' in spec['ctor']:
    from mmcv.cnn import NonLocal2d, NonLocal3d
if 'NonLocalAttn' in spec['ctor']:
    from timm.layers import NonLocalAttn
C, CS, D = spec['c'], spec['cs'], len(spec['spatial'])
dev = spec['device']
block = eval(spec['ctor']).to(dev).train()
x = torch.randn(spec['batch'], C, *spec['spatial'], device=dev, requires_grad=True)

def step():
    block.zero_grad(set_to_none=True)
    x.grad = None
    block(x).square().mean().backward()

def peak():
    if dev == 'cuda':
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

if dev == 'cuda':
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
base = torch.cuda.memory_allocated() if dev == 'cuda' else peak()
step()
if dev == 'cuda':
    torch.cuda.synchronize()
mem = peak() - base
times = []
for _ in range(spec['repeats']):
    t = time.perf_counter(); step()
    if dev == 'cuda':
        torch.cuda.synchronize()
    times.append(time.perf_counter() - t)
print(json.dumps(dict(time=statistics.median(times), mem=mem)))
'''

_MATMUL = r'''
import json, sys, time, torch
n, dev = int(sys.argv[1]), sys.argv[2]
a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
for _ in range(2): a @ b
ts = []
for _ in range(5):
    t = time.perf_counter(); a @ b
    if dev == 'cuda': torch.cuda.synchronize()
    ts.append(time.perf_counter() - t)
print(json.dumps(dict(gflops=2 * n ** 3 / min(ts) / 1e9)))
'''


def run_case(name, spatial, batch, c, cs, repeats, device):
    spec = dict(ctor=VARIANTS[name], spatial=list(spatial), batch=batch, c=c, cs=cs, repeats=repeats, device=device)
    proc = subprocess.run([sys.executable, '-c', _CASE, json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode:
        return dict(error=proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def matmul_gflops(device, n=2048):
    proc = subprocess.run([sys.executable, '-c', _MATMUL, str(n), device], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout)['gflops']


def snl_factorised_flops(n, batch, c, cs):
    """Forward FLOPs of the factorised SNL block: 1x1 projections (phi, psi, g: C -> Cs; w1, w2: Cs -> C) and the
    two products with the 2 Cs-row factors (Z R^T, then times L); forward+backward is about 3x this."""
    macs = n * (3 * c * cs + 2 * cs * c + 4 * cs * cs)
    return 2 * macs * batch


def fmt_mem(b):
    return f'{b / 2 ** 20:,.0f}'


def machine_line(device):
    import torch
    if device == 'cuda':
        return f'{torch.cuda.get_device_name()} (CUDA), torch {torch.__version__}'
    return (f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} '
            f'({torch.get_num_threads()} threads)')


def sweep(args):
    rows = []
    cases = [((s, s), args.batch) for s in args.sizes]
    cases += [((64, 64), 2)] if (64 in args.sizes and args.batch != 2) else []
    if args.video:
        cases.append(((8, 28, 28), 1))
    for spatial, batch in cases:
        n = 1
        for s in spatial:
            n *= s
        for name in args.variants:
            if name == 'timm NonLocalAttn' and len(spatial) != 2:
                continue
            if name in DENSE_LIKE and n > args.max_dense:
                continue
            r = run_case(name, spatial, batch, args.channels, args.inter, args.repeats, args.device)
            rows.append(dict(variant=name, spatial='x'.join(map(str, spatial)), n=n, batch=batch, **r))
            status = r.get('error') or f"{r['time'] * 1e3:9.1f} ms {fmt_mem(r['mem']):>8} MiB"
            print(f'  {name:32s} B={batch} {rows[-1]["spatial"]:>9}  {status}', file=sys.stderr, flush=True)
    return rows


def table(rows, gflops, args):
    lines = ['| block / path | B | positions | N | fwd+bwd ms | peak MiB | vs SNL factorised (time) | '
             'vs SNL factorised (memory) |', '|---|---|---|---|---|---|---|---|']
    ref = {(r['spatial'], r['batch']): r for r in rows if r['variant'] == 'SNL factorised' and 'time' in r}
    for r in rows:
        if 'time' not in r:
            lines.append(f"| {r['variant']} | {r['batch']} | {r['spatial']} | {r['n']} | failed: {r['error']} | | | |")
            continue
        base = ref.get((r['spatial'], r['batch']))
        tr = f"{r['time'] / base['time']:.2f}x" if base else ''
        mr = f"{r['mem'] / base['mem']:.2f}x" if base and base['mem'] > 0 else ''
        lines.append(f"| {r['variant']} | {r['batch']} | {r['spatial']} | {r['n']} | {r['time'] * 1e3:,.1f} | "
                     f"{fmt_mem(r['mem'])} | {tr} | {mr} |")
    rate = ['', f'float32 matrix product (2048^3) in this run: {gflops:,.1f} GFLOP/s', '',
            '| SNL factorised | B | N | analytic fwd+bwd GFLOP | achieved GFLOP/s | share of matmul rate |',
            '|---|---|---|---|---|---|']
    for r in rows:
        if r['variant'] == 'SNL factorised' and 'time' in r:
            flops = 3 * snl_factorised_flops(r['n'], r['batch'], args.channels, args.inter)
            rate.append(f"| {r['spatial']} | {r['batch']} | {r['n']} | {flops / 1e9:.2f} | "
                        f"{flops / r['time'] / 1e9:,.1f} | {flops / r['time'] / 1e9 / gflops:.0%} |")
    return '\n'.join(lines + rate)


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for name in dict.fromkeys(r['variant'] for r in rows):
        pts = sorted((r['n'], r['time'], r['mem']) for r in rows
                     if r['variant'] == name and 'time' in r and r['batch'] == rows[0]['batch']
                     and r['spatial'].count('x') == 1)
        if not pts:
            continue
        n, t, m = zip(*pts)
        axes[0].loglog(n, [v * 1e3 for v in t], 'o-', label=name)
        axes[1].loglog(n, [max(v, 1) / 2 ** 20 for v in m], 'o-', label=name)
    axes[0].set(xlabel='positions N (2D)', ylabel='forward+backward (ms)', title='time')
    axes[1].set(xlabel='positions N (2D)', ylabel='peak memory (MiB)', title='memory')
    axes[0].legend(fontsize=7)
    for ax in axes:
        ax.grid(True, which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


_CROSSOVER = r'''
import json, statistics, sys, time
import torch
from snl_plugins import SNL
cs, side, repeats = (int(v) for v in sys.argv[1:4])
torch.manual_seed(0)
blocks = {p: SNL(2 * cs, inter_channels=cs, path=p, zero_init=False) for p in ('dense', 'factorised')}
blocks['factorised'].load_state_dict(blocks['dense'].state_dict())
x = torch.randn(2, 2 * cs, side, side, requires_grad=True)
times = {p: [] for p in blocks}
for i in range(repeats + 1):  # interleaved, so that load on a shared machine hits both alike
    for p, block in blocks.items():
        t = time.perf_counter(); block(x).square().mean().backward()
        if i:
            times[p].append(time.perf_counter() - t)
print(json.dumps({p: statistics.median(t) for p, t in times.items()}))
'''


def crossover(args):
    """Dense vs factorised SNL (B = 2, C1 = 2 Cs) over N, timed interleaved in one process per size."""
    print('| Cs | N | N / Cs | dense ms | factorised ms | dense / factorised |\n|---|---|---|---|---|---|')
    found = {}
    for cs in (64, 128, 256):
        for side in (8, 12, 16, 20, 24, 28, 32):
            n = side * side
            proc = subprocess.run([sys.executable, '-c', _CROSSOVER, str(cs), str(side), str(max(args.repeats, 5))],
                                  capture_output=True, text=True, check=True)
            t = json.loads(proc.stdout.strip().splitlines()[-1])
            ratio = t['dense'] / t['factorised']
            print(f"| {cs} | {n} | {n / cs:.2f} | {t['dense'] * 1e3:.2f} | {t['factorised'] * 1e3:.2f} | "
                  f"{ratio:.2f} |", flush=True)
            if cs not in found and ratio > 1:
                found[cs] = n / cs
    print(f'\nfactorised first faster at N / Cs = {found} (FACTORISED_CROSSOVER in snl_plugins/ops/affinity.py)')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', type=int, nargs='+', default=list(SIZES_2D), help='2D side lengths (N = side^2)')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--channels', type=int, default=512, help='C1')
    p.add_argument('--inter', type=int, default=256, help='Cs')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--video', action=argparse.BooleanOptionalAction, default=True, help='add the 8x28x28 case')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS), metavar='NAME')
    p.add_argument('--max-dense', type=int, default=128 * 128, help='skip N x N variants above this many positions')
    p.add_argument('--device', default=None, help='cpu or cuda (default: cuda when available)')
    p.add_argument('--crossover', action='store_true', help='only measure the dense / factorised crossover')
    p.add_argument('--out', help='write OUT.md, OUT.json and OUT.png')
    args = p.parse_args(argv)
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.crossover:
        return crossover(args)
    started = time.time()
    gflops = matmul_gflops(args.device)
    rows = sweep(args)
    text = (f'Machine: {machine_line(args.device)}; C1 = {args.channels}, Cs = {args.inter}, float32, median of '
            f'{args.repeats} after a warm-up; {time.time() - started:.0f} s in all.\n\n' + table(rows, gflops, args))
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
        with open(args.out + '.md', 'w') as f:
            f.write(text + '\n')
        with open(args.out + '.json', 'w') as f:
            json.dump(dict(rows=rows, matmul_gflops=gflops, args=vars(args)), f, indent=1)
        plot(rows, args.out + '.png')
        print(f'\nsaved {args.out}.md, .json and .png', file=sys.stderr)


if __name__ == '__main__':
    main()
