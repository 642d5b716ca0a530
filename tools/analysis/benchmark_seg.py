#!/usr/bin/env python
"""Forward+backward time and peak memory of the whole segmentor (DeepLabV3-R50-D8 from configs/segmentation/, with
each block type at ``layer3.-1``, and the SNL / gSNL heads beside mmseg's NLHead), batch 1 and 2.

Every model is built from its config (no pretrained weights, BN with running statistics, as batch 1 cannot train
BN on ASPP's pooled 1x1 map); a training step is ``model.loss`` on random images and labels, then backward. Time: the
models of one size and batch are built in one process and step round-robin (a warm-up round, then ``--repeats``
rounds; medians), so the load of a shared machine falls on all of them alike. Peak memory: each model in a fresh
process, the rise over its first step of ``torch.cuda.max_memory_allocated`` (GPU) or of the peak resident set,
``ru_maxrss`` (CPU; it never falls, so only a first step can be measured). 'NL dense' is the NL config with the
block's ``path='dense'`` (N x N materialised, as mmseg's NLHead and mmcv's blocks do). Ratios are to the
plain segmentor of the same size and batch. Issue 6's targets: at 512x512 the SNL segmentor <= 1.15x the plain one in
time and memory; at 1024x2048 (128x256 positions at res4: a dense N x N affinity would be 4 GiB per image) SNL adds
<= 20% memory, with dense NL's extra memory beside it.

    python tools/analysis/benchmark_seg.py --device cuda --out docs/benchmarks_seg        # the sweep (GPU)
    python tools/analysis/benchmark_seg.py --sizes 64x64 --blocks none SNL --repeats 1    # a quick check
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
SEG = ROOT / 'configs' / 'segmentation'
CONFIGS = {
    'none': 'deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py',
    **{b: f'deeplabv3/deeplabv3_r50-d8-{b.lower()}_4xb4-20k_voc12aug-512x512.py'
       for b in ('NL', 'NS', 'A2', 'CGNL', 'SNL', 'gSNL')},
    'NLHead (mmseg)': 'nonlocal_net/nonlocal_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'SNL head': 'nonlocal_net/nonlocal_r50-d8-snlhead_4xb4-20k_voc12aug-512x512.py',
    'gSNL head': 'nonlocal_net/nonlocal_r50-d8-gsnlhead_4xb4-20k_voc12aug-512x512.py',
}

# Variants that are a config above with the inserted block's options overridden (no config file of their own).
OVERRIDES = {'NL dense': ('NL', dict(path='dense'))}


def _config(name):
    base, opts = OVERRIDES.get(name, (name, {}))
    return CONFIGS[base], opts


def _no_sync_bn(o):
    if isinstance(o, dict):
        if o.get('type') == 'SyncBN':
            o['type'] = 'BN'
        for v in o.values():
            _no_sync_bn(v)
    elif isinstance(o, list):
        for v in o:
            _no_sync_bn(v)
    return o


def _build(name, device):
    import torch

    import snl_plugins.mmseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    config, opts = _config(name)
    model_cfg = _no_sync_bn(Config.fromfile(str(SEG / config)).model.to_dict())
    model_cfg['pretrained'] = None
    for block in model_cfg['backbone'].get('blocks', []) if opts else []:
        block.update(opts)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(model_cfg).to(device)
    model.train()
    for m in model.modules():  # batch 1 cannot train BN on ASPP's pooled 1x1 map: all norms use running statistics
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


def _child(spec) -> dict:
    """Run in a fresh process: time every model of ``spec['names']`` interleaved (mode 'time'), or the peak memory
    of one training step of the single model named (mode 'mem')."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from snl_plugins.analysis.timing import interleaved_times, peak_memory_rise
    dev = spec['device']
    models = [_build(n, dev) for n in spec['names']]
    h, w = spec['size']
    b = spec['batch']
    x = torch.randn(b, 3, h, w, device=dev)
    samples = []
    for _ in range(b):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 21, (1, h, w), device=dev))
        s.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        samples.append(s)

    def step(model):
        model.zero_grad(set_to_none=True)
        losses = model.loss(x, samples)
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    if spec['mode'] == 'mem':  # the rise of the peak over one step (the first: the CPU peak RSS never falls)
        (model,) = models
        paths = sorted({getattr(m, 'path', None) or '' for m in model.modules() if hasattr(m, 'affinity_repr')}
                       - {''})
        return dict(peak_bytes=peak_memory_rise(lambda: step(model), dev),
                    params=sum(p.numel() for p in model.parameters()), paths=paths)
    medians, times = interleaved_times([lambda m=m: step(m) for m in models], spec['repeats'], dev)
    return dict(times=medians, all_times=times)


def _run(spec, threads):
    from snl_plugins.analysis.timing import run_child
    return run_child([__file__, '--child', json.dumps(spec)], cwd=ROOT,
                     env=dict(OMP_NUM_THREADS=str(threads),
                              PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])))


def run_size(names, size, batch: int, repeats: int, device: str, threads: int, memory: bool = True) -> list:
    """Rows of every model at one input size and batch: times interleaved in one process, memory one per process."""
    spec = dict(names=list(names), size=list(size), batch=batch, repeats=repeats, device=device, mode='time')
    try:
        timed = _run(spec, threads)
    except RuntimeError as err:
        return [dict(model=n, error=str(err)) for n in names]
    rows = []
    for name, t, alls in zip(names, timed['times'], timed['all_times']):
        row = dict(model=name, time_s=t, times_s=alls, peak_bytes=0, params=0, paths=[])
        if memory:
            try:
                row.update(_run(dict(spec, names=[name], mode='mem'), threads))
            except RuntimeError as err:
                row['mem_error'] = str(err)
        rows.append(row)
    return rows


def fmt_mem(b: float) -> str:
    return f'{b / 2 ** 20:.0f} MiB' if b < 2 ** 30 else f'{b / 2 ** 30:.2f} GiB'


def table(rows) -> str:
    lines = ['| input | batch | model | fwd+bwd | x plain | peak memory | x plain | extra memory |',
             '|' + ' --- |' * 8]
    plain = {(r['size'], r['batch']): r for r in rows if r['model'] == 'none' and 'error' not in r}
    for r in rows:
        if 'error' in r:
            lines.append(f"| {r['size']} | {r['batch']} | {r['model']} | failed: {r['error']} | | | | |")
            continue
        p = plain.get((r['size'], r['batch']))
        tx = f"{r['time_s'] / p['time_s']:.2f}" if p else ''
        mx = f"{r['peak_bytes'] / p['peak_bytes']:.2f}" if p and p['peak_bytes'] else ''
        extra = fmt_mem(r['peak_bytes'] - p['peak_bytes']) if p else ''
        name = 'plain' if r['model'] == 'none' else r['model'] + (f" ({', '.join(r['paths'])})" if r['paths'] else '')
        lines.append(f"| {r['size']} | {r['batch']} | {name} | {r['time_s'] * 1000:.0f} ms | {tx} | "
                     f"{fmt_mem(r['peak_bytes'])} | {mx} | {extra} |")
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', nargs='+', default=['512x512', '1024x2048'], help='HxW inputs')
    p.add_argument('--batches', nargs='+', type=int, default=[1, 2])
    p.add_argument('--blocks', nargs='+', default=list(CONFIGS) + list(OVERRIDES), choices=list(CONFIGS) + list(OVERRIDES))
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--device', default='cuda' if _cuda() else 'cpu')
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    p.add_argument('--no-memory', action='store_true', help='time only')
    p.add_argument('--out', help='write OUT.md and OUT.json')
    p.add_argument('--child', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return None
    rows = []
    load0, started = os.getloadavg(), time.time()
    for size in args.sizes:
        hw = tuple(int(v) for v in size.lower().split('x'))
        for batch in args.batches:
            for r in run_size(args.blocks, hw, batch, args.repeats, args.device, args.threads, not args.no_memory):
                r = dict(r, size=size, batch=batch)
                rows.append(r)
                print(json.dumps(r), flush=True)
    text = (f'Device: {args.device} ({platform.processor() or platform.machine()}, {args.threads} threads); '
            f'median of {args.repeats} training steps, the models of one size and batch interleaved round-robin in '
            f'one process after a warm-up round; memory: each model in a fresh process, the rise of the peak over '
            f'its first step; {time.time() - started:.0f} s; load average {load0[0]:.2f} at the start, '
            f'{os.getloadavg()[0]:.2f} at the end.\n\n' + table(rows) + '\n')
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out + '.md').write_text(text)
        Path(args.out + '.json').write_text(json.dumps(rows, indent=2))
    return rows


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == '__main__':
    main()
