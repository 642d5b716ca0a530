#!/usr/bin/env python
"""Spatio-temporal benchmark (issue 5): forward+backward time and peak memory of

1. one block at I3D res4 sizes (C1 = 1024, Cs = 512, batch 1), T x H x W from 4x7x7 to 16x28x28: our SNL (factorised
   path where it is cheaper), gSNL, NL (fused softmax), NS, A2, CGNL, and mmcv's ``NonLocal3d`` (embedded Gaussian,
   no sub-sampling) in the same run;
2. the whole I3D-R50 backbone (mmaction2's ResNet3d, batch 1): plain, + mmcv NL at mmaction2's placement (after
   blocks 1, 3 of res3 and 1, 3, 5 of res4, sub-sampled, as its i3d ...-nl-embedded-gaussian config), + one SNL at the
   paper's placement (before the last block of res4), at 8x112x112 and 32x224x224;
3. VTN's temporal encoder (issue 9; 4 layers, width 512, batch 4 clips) with its multi-head self-attention and with
   SNL / gSNL / NL in its place, at T = 16 (VTN's clips) up to long videos (T = 256, 1024);
4. MARS's 3D ResNeXt-101 (batch 1) plain and + SNL right before the last block of res3, at 16x112x112.

Time: for each size, every variant is built in one process and they run round-robin (one warm-up round, then
``--repeats`` rounds; medians), so the load of a shared machine falls on all of them alike. Memory: each variant in a
fresh process, the rise of the peak resident set (``ru_maxrss``) over one forward+backward after the model and input
are built (CPU), or ``torch.cuda.max_memory_allocated`` minus the memory allocated before the step (GPU).

    python tools/analysis/benchmark_video.py --out docs/benchmark_video          # both sweeps; OUT.md/.json/.png
    python tools/analysis/benchmark_video.py --sweeps block --sizes 4x7x7 --repeats 1   # a quick check
    python tools/analysis/benchmark_video.py --sweeps vtn resnext --out docs/benchmark_vtn_mars   # issue 9
    python tools/analysis/benchmark_video.py --sweeps backbone --backbone-sizes 8x112x112 --compile --no-memory \
        --backbones I3D-R50 "I3D-R50 + SNL (paper placement)"                    # eager vs torch.compile

``--compile`` adds each variant's ``torch.compile``d twin (``NAME [compiled]``; inductor unless
``--compile-backend``) to the same process and the same round-robin, sharing its weights; the first call of each
compiled variant (compilation + one step) is timed on its own before the warm-up round, and a table of eager vs
compiled time is added. Compiled variants get no memory figure (on a CPU the compiler's own peak would swamp it).
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BLOCK_SIZES = ('4x7x7', '8x7x7', '8x14x14', '16x14x14', '16x28x28')
BACKBONE_SIZES = ('8x112x112', '32x224x224')
C1, CS = 1024, 512
BLOCKS = {
    'SNL (ours)': "SNL(C1, inter_channels=CS, dim=3, zero_init=False)",
    'gSNL (ours)': "gSNL(C1, inter_channels=CS, dim=3, zero_init=False)",
    'NL (ours, fused softmax)': "NL(C1, inter_channels=CS, dim=3, zero_init=False)",
    'NS (ours, fused softmax)': "NS(C1, inter_channels=CS, dim=3, zero_init=False)",
    'A2 (ours)': "A2(C1, inter_channels=CS, dim=3, zero_init=False)",
    'CGNL (ours)': "CGNL(C1, inter_channels=CS, dim=3, zero_init=False)",
    'mmcv NonLocal3d (emb. Gaussian)': "NonLocal3d(C1, reduction=C1 // CS, sub_sample=False, "
                                       "mode='embedded_gaussian')",
}
REFERENCE_BLOCK = 'mmcv NonLocal3d (emb. Gaussian)'
BACKBONES = ('I3D-R50', 'I3D-R50 + mmcv NL x5 (mmaction2 placement)', 'I3D-R50 + SNL (paper placement)')
VTN_LENGTHS = ('16', '256', '1024')
VTN_BATCH, VTN_WIDTH = 4, 512
VTN_ATTENTIONS = {
    'VTN encoder, MHSA (VTN)': dict(type='MultiHeadSelfAttention', num_heads=8),
    'VTN encoder, SNL': dict(type='SNL'),
    'VTN encoder, gSNL': dict(type='gSNL'),
    'VTN encoder, NL (fused softmax)': dict(type='NL'),
}
RESNEXT_SIZES = ('16x112x112',)
RESNEXTS = ('ResNeXt3D-101', 'ResNeXt3D-101 + SNL (MARS placement)')
SWEEPS = ('block', 'backbone', 'vtn', 'resnext')


def _i3d(blocks=None, non_local=None):
    backbone = dict(type='ResNet3d', depth=50, pretrained=None, pretrained2d=False, conv1_kernel=(5, 7, 7),
                    conv1_stride_t=2, pool1_stride_t=2, inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
                    zero_init_residual=False, norm_eval=False)
    if non_local:
        backbone.update(non_local=((0, 0, 0), (0, 1, 0, 1), (0, 1, 0, 1, 0, 1), (0, 0, 0)),
                        non_local_cfg=dict(sub_sample=True, use_scale=False,
                                           norm_cfg=dict(type='BN3d', requires_grad=True), mode='embedded_gaussian'))
    if blocks:
        return dict(type='InjectNonlocal', module=backbone, blocks=blocks)
    return backbone


def backbone_cfg(name):
    resnext = dict(type='ResNeXt3d', depth=101)
    return {BACKBONES[0]: _i3d(), BACKBONES[1]: _i3d(non_local=True),
            BACKBONES[2]: _i3d(blocks=[dict(type='SNL', at='layer3.-1', position='before')]),
            RESNEXTS[0]: resnext,
            RESNEXTS[1]: dict(type='InjectNonlocal', module=resnext,
                              blocks=[dict(type='SNL', at='layer2.-1', position='before', reduction=2)])}[name]


# --------------------------------------------------------------------------------------------- child process
def _build(kind, name, device):
    import torch
    torch.manual_seed(0)
    if kind == 'block':
        from mmcv.cnn import NonLocal3d  # noqa: F401
        from snl_plugins import A2, CGNL, NL, NS, SNL, gSNL  # noqa: F401
        return eval(BLOCKS[name]).to(device).train()
    if kind == 'vtn':
        from snl_plugins.mmaction.vtn_encoder import VTNEncoder
        return VTNEncoder(VTN_WIDTH, num_positions=max(int(t) for t in VTN_LENGTHS),
                          attention=VTN_ATTENTIONS[name]).to(device).train()
    import snl_plugins  # noqa: F401
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(backbone_cfg(name))
        model.init_weights()
    model.to(device)
    model.train()  # mmaction2's ResNet3d.train returns None
    return model


COMPILED = ' [compiled]'


def _child(spec):
    import torch

    from snl_plugins.analysis.timing import interleaved_times, peak_memory_rise, synchronize
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    dev = torch.device(spec['device'])
    models = [_build(spec['kind'], n, dev) for n in spec['names']]
    if spec['kind'] == 'vtn':
        x = torch.randn(VTN_BATCH, int(spec['size']), VTN_WIDTH, device=dev, requires_grad=True)
    else:
        t, h, w = map(int, spec['size'].split('x'))
        x = (torch.randn(1, C1, t, h, w, device=dev, requires_grad=True) if spec['kind'] == 'block'
             else torch.randn(1, 3, t, h, w, device=dev))

    def step(m):
        m.zero_grad(set_to_none=True)
        x.grad = None
        out = m(x)
        (out[0] if isinstance(out, tuple) else out).float().square().mean().backward()

    if spec['mode'] == 'mem':
        (m,) = models
        return dict(mem=peak_memory_rise(lambda: step(m), dev))
    first = []
    if spec.get('compile'):  # each model followed by its compiled twin (same weights), first calls timed alone
        compiled = [torch.compile(m, backend=spec.get('backend', 'inductor'), mode=spec.get('compile_mode'))
                    for m in models]
        for m in compiled:
            synchronize(dev)
            t0 = time.perf_counter()
            step(m)
            synchronize(dev)
            first.append(time.perf_counter() - t0)
        models = [m for pair in zip(models, compiled) for m in pair]
    medians, times = interleaved_times([lambda m=m: step(m) for m in models], spec['repeats'], dev)
    return dict(times=medians, all_times=times, first=first)


def _run(spec):
    from snl_plugins.analysis.timing import run_child
    return run_child([__file__, '--child', json.dumps(spec)], cwd=ROOT)


def sweep(kind, sizes, names, repeats, device, memory=True, threads=None, compile_cfg=None):
    """Rows of each size and variant; ``compile_cfg=dict(backend=..., compile_mode=...)`` adds compiled twins."""
    rows = []
    timed_names = [m for n in names for m in ((n, n + COMPILED) if compile_cfg else (n,))]
    for size in sizes:
        started = time.time()
        spec = dict(kind=kind, size=size, names=list(names), repeats=repeats, device=device, mode='time',
                    threads=threads, compile=bool(compile_cfg), **(compile_cfg or {}))
        try:
            timed = _run(spec)
        except RuntimeError as err:
            print(f'{size}: timing failed: {err}', file=sys.stderr, flush=True)
            rows += [dict(kind=kind, size=size, model=n, error=str(err)) for n in timed_names]
            continue
        first = iter(timed['first'])
        for name, sec, alls in zip(timed_names, timed['times'], timed['all_times']):
            row = dict(kind=kind, size=size, model=name, ms=1e3 * sec, ms_all=[1e3 * v for v in alls])
            if name.endswith(COMPILED):
                row['first_call_s'] = next(first)
            elif memory:
                try:
                    row['peak_mib'] = _run(dict(spec, names=[name], mode='mem', compile=False))['mem'] / 2 ** 20
                except RuntimeError as err:
                    row['mem_error'] = str(err)
            rows.append(row)
            print(f"{size:>10} {name:<45} {row['ms']:10.1f} ms  {row.get('peak_mib', float('nan')):9.1f} MiB",
                  file=sys.stderr, flush=True)
        print(f'{size}: {time.time() - started:.0f} s', file=sys.stderr, flush=True)
    return rows


def table(rows, kind, ref):
    size = 'T' if kind == 'vtn' else 'T x H x W'
    lines = [f'| {size} | model | fwd+bwd ms (median) | min ms | peak MiB | time vs {ref} | memory vs {ref} |',
             '|---|---|---|---|---|---|---|']
    base = {r['size']: r for r in rows if r['kind'] == kind and r['model'] == ref and 'ms' in r}
    for r in rows:
        if r['kind'] != kind:
            continue
        if 'ms' not in r:
            lines.append(f"| {r['size']} | {r['model']} | failed: {r['error']} | | | | |")
            continue
        b = base.get(r['size'])
        mem = r.get('peak_mib')
        tr = f"{r['ms'] / b['ms']:.2f}x" if b else ''
        mr = f"{mem / b['peak_mib']:.2f}x" if b and mem is not None and b.get('peak_mib') else ''
        lines.append(f"| {r['size']} | {r['model']} | {r['ms']:,.1f} | {min(r['ms_all']):,.1f} | "
                     f"{'' if mem is None else f'{mem:,.0f}'} | {tr} | {mr} |")
    return '\n'.join(lines)


def compile_table(rows, kind):
    """Eager vs compiled time of each variant of ``kind`` that has a compiled twin."""
    size = 'T' if kind == 'vtn' else 'T x H x W'
    lines = [f'| {size} | model | eager ms (median) | compiled ms (median) | speed-up | first compiled call s |',
             '|---|---|---|---|---|---|']
    timed = {(r['size'], r['model']): r for r in rows if r['kind'] == kind and 'ms' in r}
    for (sz, name), r in timed.items():
        c = timed.get((sz, name + COMPILED))
        if c:
            lines.append(f"| {sz} | {name} | {r['ms']:,.1f} | {c['ms']:,.1f} | {r['ms'] / c['ms']:.2f}x | "
                         f"{c['first_call_s']:.1f} |")
    return '\n'.join(lines) if len(lines) > 2 else ''


SWEPT = dict(block=('positions T*H*W', f'one block, C1={C1}, Cs={CS}, batch 1'),
             vtn=('clip length T', f'VTN temporal encoder, width {VTN_WIDTH}, batch {VTN_BATCH}'))


def plot(rows, path):
    """Time and memory against the swept length, one row of panels per swept kind (block, vtn) in ``rows``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    kinds = [k for k in SWEPT if any(r['kind'] == k and 'ms' in r for r in rows)]
    fig, axes = plt.subplots(len(kinds), 2, figsize=(13, 5 * len(kinds)), squeeze=False)
    for (ax_t, ax_m), kind in zip(axes, kinds):
        for name in dict.fromkeys(r['model'] for r in rows if r['kind'] == kind):
            pts = sorted((eval(r['size'].replace('x', '*')), r['ms'], r.get('peak_mib') or 1)
                         for r in rows if r['kind'] == kind and r['model'] == name and 'ms' in r)
            if pts:
                n, t, m = zip(*pts)
                ax_t.loglog(n, t, 'o-', label=name)
                ax_m.loglog(n, [max(v, 1) for v in m], 'o-', label=name)
        xlabel, title = SWEPT[kind]
        ax_t.set(xlabel=xlabel, ylabel='forward+backward (ms)', title=title)
        ax_m.set(xlabel=xlabel, ylabel='peak memory rise (MiB)', title='memory')
        ax_t.legend(fontsize=7)
    for ax in axes.flat:
        ax.grid(True, which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default=None, help='cpu or cuda (default: cuda when available)')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--sizes', nargs='+', default=list(BLOCK_SIZES), help='block sweep T x H x W sizes')
    p.add_argument('--blocks', nargs='+', default=list(BLOCKS), choices=list(BLOCKS), metavar='NAME')
    p.add_argument('--backbone-sizes', nargs='+', default=list(BACKBONE_SIZES))
    p.add_argument('--backbones', nargs='+', default=list(BACKBONES), choices=BACKBONES, metavar='NAME',
                   help='backbone sweep variants (default: all)')
    p.add_argument('--vtn-lengths', nargs='+', default=list(VTN_LENGTHS), help='VTN encoder sweep: clip lengths T')
    p.add_argument('--resnext-sizes', nargs='+', default=list(RESNEXT_SIZES))
    p.add_argument('--sweeps', nargs='+', default=list(SWEEPS), choices=SWEEPS,
                   help='block: one block at I3D res4 sizes; backbone: I3D-R50; vtn: VTN temporal encoder; '
                        'resnext: MARS ResNeXt3D-101 (default: all)')
    p.add_argument('--no-memory', action='store_true', help='time only')
    p.add_argument('--threads', type=int, help="torch threads in each measuring process (default: torch's)")
    p.add_argument('--compile', action='store_true', help='time each variant eager and torch.compile\'d')
    p.add_argument('--compile-backend', default='inductor', help='torch.compile backend (with --compile)')
    p.add_argument('--compile-mode', default=None, help='torch.compile mode, e.g. max-autotune (with --compile)')
    p.add_argument('--out', help='write OUT.md, OUT.json and OUT.png')
    p.add_argument('--child', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child(json.loads(a.child))))
        return None
    import torch
    device = a.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    started, load0 = time.time(), os.getloadavg()
    plan = dict(block=(a.sizes, a.blocks, REFERENCE_BLOCK), backbone=(a.backbone_sizes, a.backbones, a.backbones[0]),
                vtn=(a.vtn_lengths, list(VTN_ATTENTIONS), next(iter(VTN_ATTENTIONS))),
                resnext=(a.resnext_sizes, RESNEXTS, RESNEXTS[0]))
    rows = []
    for kind in a.sweeps:
        sizes, names, _ = plan[kind]
        rows += sweep(kind, sizes, names, a.repeats, device, not a.no_memory, a.threads,
                      dict(backend=a.compile_backend, compile_mode=a.compile_mode) if a.compile else None)
    machine = (torch.cuda.get_device_name() if device == 'cuda' else
               f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
               f'{a.threads or torch.get_num_threads()} threads')
    compiled = (f'; each variant also torch.compile\'d (backend {a.compile_backend}, mode '
                f'{a.compile_mode or "default"}), in the same rounds' if a.compile else '')
    text = (f'Machine: {machine}, torch {torch.__version__}; float32, batch 1 (VTN encoder: {VTN_BATCH} clips), '
            f'median of {a.repeats} interleaved rounds after a warm-up round{compiled}; '
            f'{"time only" if a.no_memory else "memory per variant in a fresh process"}; '
            f'{time.time() - started:.0f} s; load average {load0[0]:.2f} at the start, '
            f'{os.getloadavg()[0]:.2f} at the end.\n\n'
            + '\n\n'.join(filter(None, [t for kind in a.sweeps for t in (
                table(rows, kind, plan[kind][2]), compile_table(rows, kind) if a.compile else '')])) + '\n')
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out + '.md').write_text(text)
        Path(a.out + '.json').write_text(json.dumps(dict(device=device, torch=torch.__version__, args=vars(a),
                                                         rows=rows), indent=1))
        if any(r['kind'] in SWEPT and 'ms' in r for r in rows):
            plot(rows, a.out + '.png')
    return rows


if __name__ == '__main__':
    main()
