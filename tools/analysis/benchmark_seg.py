#!/usr/bin/env python
"""Forward+backward time and peak memory of the whole segmentor (DeepLabV3-R50-D8 from configs/segmentation/, with
each block type at ``layer3.-1``, and the SNL / gSNL heads beside mmseg's NLHead), batch 1 and 2.

Each case runs in a fresh process: the model is built from the config (no pretrained weights, BN with running
statistics, as batch 1 cannot train BN on ASPP's pooled 1x1 map), one training step
(``model.loss`` on random images and labels, then backward) warms up, and the time is the median of ``--repeats``
steps. Peak memory is ``torch.cuda.max_memory_allocated`` during the steps minus the memory held after the warm-up's
gradients were freed (GPU), or the rise of the process's peak resident set over the steps (CPU). Ratios are to the
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
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEG = ROOT / 'configs' / 'segmentation'
CONFIGS = {
    'none': 'deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py',
    **{b: f'deeplabv3/deeplabv3_r50-d8-{b.lower()}_4xb4-20k_voc12aug-512x512.py'
       for b in ('NL', 'NS', 'A2', 'CGNL', 'SNL', 'gSNL')},
    'NLHead (mmseg)': 'nonlocal_net/nonlocal_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'SNL head': 'nonlocal_net/nonlocal_r50-d8-snlhead_4xb4-20k_voc12aug-512x512.py',
    'gSNL head': 'nonlocal_net/nonlocal_r50-d8-gsnlhead_4xb4-20k_voc12aug-512x512.py',
}

_CASE = r'''
import json, resource, statistics, sys, time
import torch
spec = json.loads(sys.argv[1])
import snl_plugins.mmseg
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

def no_sync_bn(o):
    if isinstance(o, dict):
        if o.get('type') == 'SyncBN':
            o['type'] = 'BN'
        for v in o.values():
            no_sync_bn(v)
    elif isinstance(o, list):
        for v in o:
            no_sync_bn(v)
    return o

torch.manual_seed(0)
dev = spec['device']
cfg = Config.fromfile(spec['config'])
model_cfg = no_sync_bn(cfg.model.to_dict())
model_cfg['pretrained'] = None
with DefaultScope.overwrite_default_scope('mmseg'):
    model = MODELS.build(model_cfg).to(dev).train()
for m in model.modules():  # batch 1 cannot train BN on ASPP's pooled 1x1 map: all norms use running statistics
    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
        m.eval()
h, w = spec['size']
b = spec['batch']
x = torch.randn(b, 3, h, w, device=dev)
samples = []
for _ in range(b):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=torch.randint(0, 21, (1, h, w), device=dev))
    s.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
    samples.append(s)

def step():
    model.zero_grad(set_to_none=True)
    losses = model.loss(x, samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()

def sync():
    if dev.startswith('cuda'):
        torch.cuda.synchronize()

step(); sync()
model.zero_grad(set_to_none=True)
if dev.startswith('cuda'):
    torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
else:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
times = []
for _ in range(spec['repeats']):
    sync(); t = time.perf_counter(); step(); sync(); times.append(time.perf_counter() - t)
if dev.startswith('cuda'):
    peak = torch.cuda.max_memory_allocated() - base
else:
    peak = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base)
paths = sorted({getattr(m, 'path', None) or '' for m in model.modules() if hasattr(m, 'affinity_repr')} - {''})
print('RESULT ' + json.dumps(dict(time_s=statistics.median(times), peak_bytes=peak, params=sum(
    p.numel() for p in model.parameters()), paths=paths)))
'''


def run_case(config: str, size, batch: int, repeats: int, device: str, threads: int) -> dict:
    spec = dict(config=str(SEG / config), size=list(size), batch=batch, repeats=repeats, device=device)
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS=str(threads))
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')])
    proc = subprocess.run([sys.executable, '-c', _CASE, json.dumps(spec)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ['?']
        return dict(error=tail[0][:200])
    return json.loads(proc.stdout.split('RESULT ', 1)[1].splitlines()[0])


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
    p.add_argument('--blocks', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--device', default='cuda' if _cuda() else 'cpu')
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    p.add_argument('--out', help='write OUT.md and OUT.json')
    args = p.parse_args(argv)
    rows = []
    for size in args.sizes:
        hw = tuple(int(v) for v in size.lower().split('x'))
        for batch in args.batches:
            for name in args.blocks:
                r = dict(model=name, size=size, batch=batch, **run_case(CONFIGS[name], hw, batch, args.repeats,
                                                                          args.device, args.threads))
                rows.append(r)
                print(json.dumps(r), flush=True)
    text = (f'Device: {args.device} ({platform.processor() or platform.machine()}, {args.threads} threads); '
            f'median of {args.repeats} steps.\n\n' + table(rows) + '\n')
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
