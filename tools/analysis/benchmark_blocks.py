#!/usr/bin/env python
"""Forward+backward time and peak memory of every non-local block and path, with mmcv's and timm's non-local
blocks measured in the same run.

Time: for each input size, every variant runs in one process, round-robin with a 2048^3 float32 matrix product,
``--repeats`` rounds after a warm-up round, medians reported; so the load of a shared machine falls on all of them
alike, and the factorised SNL block's arithmetic rate is compared with the matrix-product rate of the same rounds.
Memory: each variant in a fresh process, the rise of the peak resident set over one forward+backward (CPU), or of
``torch.cuda.max_memory_allocated`` on a GPU. Prints markdown tables and saves a PNG plot.

    python tools/analysis/benchmark_blocks.py --out docs/benchmark_blocks            # the full sweep (~15 min, 2 cores)
    python tools/analysis/benchmark_blocks.py --crossover                             # dense vs factorised crossover
    python tools/analysis/benchmark_blocks.py --compile --sizes 64 --batch 2 --no-video  # eager vs torch.compile

``--compile``: each variant (default SNL factorised, gSNL factorised, NL fused) eager and ``torch.compile``d
(inductor unless ``--compile-backend``), both in one process sharing the weights: the first call (compilation and one
step) is timed on its own, then the two run round-robin like the time sweep (a warm-up round, ``--repeats`` rounds,
medians). No memory figures (on a CPU the compiler's own peak would swamp the step's).
"""
import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from snl_plugins.analysis.timing import run_child  # noqa: E402

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
COMPILE_VARIANTS = ('SNL factorised', 'gSNL factorised', 'NL fused (SDPA)')
DENSE_LIKE = ('SNL dense', 'gSNL dense', 'NL dense', 'mmcv NonLocal (emb. Gaussian)', 'timm NonLocalAttn')

_SETUP = r'''
import json, sys
import torch
spec = json.loads(sys.argv[1])
if spec.get('threads'):
    torch.set_num_threads(spec['threads'])
from snl_plugins import SNL, gSNL, NL, NS, A2, CGNL
from snl_plugins.analysis.timing import interleaved_times, peak_memory_rise
from mmcv.cnn import NonLocal2d, NonLocal3d
from timm.layers import NonLocalAttn
C, CS, D = spec['c'], spec['cs'], len(spec['spatial'])
dev = spec['device']


def build(ctor):
    torch.manual_seed(0)
    return eval(ctor).to(dev).train()


x = torch.randn(spec['batch'], C, *spec['spatial'], device=dev, requires_grad=True)


def step(block):
    block.zero_grad(set_to_none=True)
    x.grad = None
    block(x).square().mean().backward()
'''

# Peak memory: one variant per process (snl_plugins.analysis.timing.peak_memory_rise).
_MEMORY = _SETUP + r'''
block = build(spec['ctors'][0])
print(json.dumps(dict(mem=peak_memory_rise(lambda: step(block), dev))))
'''

# Time: every variant of one size in one process, round-robin with a float32 matrix product, so that the load of a
# shared machine falls on all of them alike; medians over the rounds after a warm-up round.
_TIMES = _SETUP + r'''
blocks = [build(c) for c in spec['ctors']]
a, b = torch.randn(2048, 2048, device=dev), torch.randn(2048, 2048, device=dev)
med, _ = interleaved_times([lambda blk=blk: step(blk) for blk in blocks] + [lambda: a @ b], spec['repeats'], dev)
print(json.dumps(dict(times=med[:-1], matmul_gflops=2 * 2048 ** 3 / med[-1] / 1e9)))
'''

# Eager vs compiled: each variant and its torch.compile'd twin (same module, same weights) in one process; the first
# call of each compiled block (compilation + one step) timed alone, then round-robin as above.
_COMPILE = _SETUP + r'''
import time
from snl_plugins.analysis.timing import synchronize
blocks = [build(c) for c in spec['ctors']]
compiled = [torch.compile(b, backend=spec['backend'], mode=spec['mode']) for b in blocks]
first = []
for c in compiled:
    t0 = time.perf_counter()
    step(c)
    synchronize(dev)
    first.append(time.perf_counter() - t0)
med, _ = interleaved_times([lambda blk=blk: step(blk) for pair in zip(blocks, compiled) for blk in pair],
                           spec['repeats'], dev)
print(json.dumps(dict(eager=med[0::2], compiled=med[1::2], first=first)))
'''


def _run(script, spec):
    return run_child(['-c', script, json.dumps(spec)])


def measure(names, spatial, batch, c, cs, repeats, device, memory=True, threads=None):
    '''``{name: dict(time, mem)}`` of the variants at one size, and the matrix-product rate measured with them.'''
    spec = dict(spatial=list(spatial), batch=batch, c=c, cs=cs, repeats=repeats, device=device, threads=threads)
    timed = _run(_TIMES, dict(spec, ctors=[VARIANTS[n] for n in names]))
    out = {}
    for name, t in zip(names, timed['times']):
        mem = _run(_MEMORY, dict(spec, ctors=[VARIANTS[name]])) if memory else {}
        out[name] = dict(time=t, **mem)
    return out, timed['matmul_gflops']


def compile_sweep(args):
    '''Rows ``dict(variant, spatial, batch, eager, compiled, first)`` (seconds): each variant eager and compiled.'''
    rows = []
    cases = [((side, side), args.batch) for side in args.sizes] + ([((8, 28, 28), 1)] if args.video else [])
    for spatial, batch in cases:
        label = 'x'.join(map(str, spatial))
        names = [v for v in args.variants if not (v == 'timm NonLocalAttn' and len(spatial) != 2)]
        spec = dict(spatial=list(spatial), batch=batch, c=args.channels, cs=args.inter, repeats=args.repeats,
                    device=args.device, threads=args.threads, ctors=[VARIANTS[n] for n in names],
                    backend=args.compile_backend, mode=args.compile_mode)
        try:
            out = _run(_COMPILE, spec)
        except RuntimeError as err:
            print(f'  B={batch} {label}: failed: {err}', file=sys.stderr)
            continue
        for name, e, c, f in zip(names, out['eager'], out['compiled'], out['first']):
            rows.append(dict(variant=name, spatial=label, n=math.prod(spatial), batch=batch, eager=e, compiled=c,
                             first=f))
            print(f'  {name:32s} B={batch} {label:>9} eager {e * 1e3:9.1f} ms, compiled {c * 1e3:9.1f} ms '
                  f'({e / c:.2f}x), first call {f:.1f} s', file=sys.stderr, flush=True)
    return rows


def compile_table(rows):
    lines = ['| block / path | B | positions | eager fwd+bwd ms | compiled fwd+bwd ms | speed-up | '
             'first compiled call s |', '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['variant']} | {r['batch']} | {r['spatial']} | {r['eager'] * 1e3:,.1f} | "
                     f"{r['compiled'] * 1e3:,.1f} | {r['eager'] / r['compiled']:.2f}x | {r['first']:.1f} |")
    return '\n'.join(lines)


def snl_factorised_flops(n, batch, c, cs):
    """Forward FLOPs of the factorised SNL block: 1x1 projections (phi, psi, g: C -> Cs; w1, w2: Cs -> C) and the
    two products with the 2 Cs-row factors (Z R^T, then times L); forward+backward is about 3x this."""
    macs = n * (3 * c * cs + 2 * cs * c + 4 * cs * cs)
    return 2 * macs * batch


def fmt_mem(b):
    return f'{b / 2 ** 20:,.0f}'


def machine_line(device, threads=None):
    import torch
    if device == 'cuda':
        return f'{torch.cuda.get_device_name()} (CUDA), torch {torch.__version__}'
    return (f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} '
            f'({threads or torch.get_num_threads()} threads per measuring process)')


def sweep(args):
    rows = []
    cases = [((side, side), args.batch) for side in args.sizes]
    cases += [((64, 64), 2)] if (64 in args.sizes and args.batch != 2) else []
    if args.video:
        cases.append(((8, 28, 28), 1))
    for spatial, batch in cases:
        n = math.prod(spatial)
        names = [v for v in args.variants if not (v == 'timm NonLocalAttn' and len(spatial) != 2)
                 and not (v in DENSE_LIKE and n > args.max_dense)]
        label = 'x'.join(map(str, spatial))
        try:
            results, gflops = measure(names, spatial, batch, args.channels, args.inter, args.repeats, args.device,
                                      threads=args.threads)
        except RuntimeError as err:
            print(f'  B={batch} {label}: failed: {err}', file=sys.stderr)
            continue
        for name in names:
            r = results[name]
            rows.append(dict(variant=name, spatial=label, n=n, batch=batch, matmul_gflops=gflops, **r))
            print(f"  {name:32s} B={batch} {label:>9} {r['time'] * 1e3:9.1f} ms {fmt_mem(r['mem']):>8} MiB",
                  file=sys.stderr, flush=True)
    return rows


def table(rows, args):
    lines = ['| block / path | B | positions | N | fwd+bwd ms | peak MiB | time vs SNL factorised | '
             'memory vs SNL factorised |', '|---|---|---|---|---|---|---|---|']
    ref = {(r['spatial'], r['batch']): r for r in rows if r['variant'] == 'SNL factorised'}
    for r in rows:
        base = ref.get((r['spatial'], r['batch']))
        tr = f"{r['time'] / base['time']:.2f}x" if base else ''
        mr = f"{r['mem'] / base['mem']:.2f}x" if base and base['mem'] > 0 else ''
        lines.append(f"| {r['variant']} | {r['batch']} | {r['spatial']} | {r['n']} | {r['time'] * 1e3:,.1f} | "
                     f"{fmt_mem(r['mem'])} | {tr} | {mr} |")
    rate = ['', '| SNL factorised | B | N | analytic fwd+bwd GFLOP | achieved GFLOP/s | float32 matmul GFLOP/s '
            '(same run) | share |', '|---|---|---|---|---|---|---|']
    for r in rows:
        if r['variant'] == 'SNL factorised':
            flops = 3 * snl_factorised_flops(r['n'], r['batch'], args.channels, args.inter)
            achieved = flops / r['time'] / 1e9
            rate.append(f"| {r['spatial']} | {r['batch']} | {r['n']} | {flops / 1e9:.2f} | {achieved:,.1f} | "
                        f"{r['matmul_gflops']:,.1f} | {achieved / r['matmul_gflops']:.0%} |")
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


def crossover(args):
    """Dense vs factorised SNL (B = 2, C1 = 2 Cs) over N, timed interleaved in one process per size."""
    print('| Cs | N | N / Cs | dense ms | factorised ms | dense / factorised |\n|---|---|---|---|---|---|')
    found = {}
    for cs in (64, 128, 256):
        for side in (8, 12, 16, 20, 24, 28, 32):
            n = side * side
            t, _ = measure(['SNL dense', 'SNL factorised'], (side, side), 2, 2 * cs, cs, max(args.repeats, 5),
                           args.device, memory=False, threads=args.threads)
            ratio = t['SNL dense']['time'] / t['SNL factorised']['time']
            print(f"| {cs} | {n} | {n / cs:.2f} | {t['SNL dense']['time'] * 1e3:.2f} | "
                  f"{t['SNL factorised']['time'] * 1e3:.2f} | {ratio:.2f} |", flush=True)
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
    p.add_argument('--variants', nargs='+', choices=list(VARIANTS), metavar='NAME',
                   help='default: all (with --compile: %s)' % ', '.join(COMPILE_VARIANTS))
    p.add_argument('--max-dense', type=int, default=128 * 128, help='skip N x N variants above this many positions')
    p.add_argument('--device', default=None, help='cpu or cuda (default: cuda when available)')
    p.add_argument('--threads', type=int, help='torch threads in each measuring process (default: torch\'s)')
    p.add_argument('--crossover', action='store_true', help='only measure the dense / factorised crossover')
    p.add_argument('--compile', action='store_true', help='only compare eager with torch.compile, per variant')
    p.add_argument('--compile-backend', default='inductor', help='torch.compile backend (with --compile)')
    p.add_argument('--compile-mode', default=None, help='torch.compile mode, e.g. max-autotune (with --compile)')
    p.add_argument('--out', help='write OUT.md, OUT.json and OUT.png')
    args = p.parse_args(argv)
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.crossover:
        return crossover(args)
    args.variants = args.variants or list(COMPILE_VARIANTS if args.compile else VARIANTS)
    started, load0 = time.time(), os.getloadavg()[0]
    rows = compile_sweep(args) if args.compile else sweep(args)
    what = (f'eager vs torch.compile (backend {args.compile_backend}, mode {args.compile_mode or "default"}; eager and '
            f'compiled round-robin), ' if args.compile else '')
    text = (f'Machine: {machine_line(args.device, args.threads)}; C1 = {args.channels}, Cs = {args.inter}, float32, '
            f'{what}median of {args.repeats} after a warm-up; {time.time() - started:.0f} s in all; load average '
            f'{load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.\n\n'
            + (compile_table(rows) if args.compile else table(rows, args)))
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
        with open(args.out + '.md', 'w') as f:
            f.write(text + '\n')
        with open(args.out + '.json', 'w') as f:
            json.dump(dict(rows=rows, args=vars(args)), f, indent=1)
        if not args.compile:
            plot(rows, args.out + '.png')
        print(f'\nsaved {args.out}.md, .json' + ('' if args.compile else ' and .png'), file=sys.stderr)


if __name__ == '__main__':
    main()
