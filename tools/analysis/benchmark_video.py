#!/usr/bin/env python
"""Spatio-temporal benchmark (issue 5): forward+backward time and peak memory of

1. one block at I3D res4 sizes (C1 = 1024, Cs = 512, batch 1), T x H x W from 4x7x7 to 16x28x28: our SNL (factorised
   path where it is cheaper), our NL, and mmcv's ``NonLocal3d`` (embedded Gaussian, no sub-sampling) in the same run;
2. the whole I3D-R50 backbone (mmaction2's ResNet3d, batch 1): plain, + mmcv NL at mmaction2's placement (after
   blocks 1, 3 of res3 and 1, 3, 5 of res4, sub-sampled, as its i3d ...-nl-embedded-gaussian config), + one SNL at the
   paper's placement (before the last block of res4), at 8x112x112 and 32x224x224.

``python tools/analysis/benchmark_video.py [--device cuda] [--repeats 10] [--blocks-only] [--sizes 4x7x7 ...]
[--out docs/benchmark_video.json]``. Peak memory is measured on CUDA only (``torch.cuda.max_memory_allocated``); on CPU
the column is empty. Each case runs in this process after a warm-up; the median of ``--repeats`` timings is reported.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BLOCK_SIZES = ('4x7x7', '8x7x7', '8x14x14', '16x14x14', '16x28x28')
BACKBONE_SIZES = ('8x112x112', '32x224x224')


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure(fn, device, repeats: int):
    """(median seconds, peak bytes or None) of ``fn()`` (forward + backward)."""
    fn()  # warm-up (kernels, allocator)
    _sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(device) - base if device.type == 'cuda' else None
    return statistics.median(times), peak


def _step(module, x):
    def run():
        module.zero_grad(set_to_none=True)
        out = module(x)
        (out[0] if isinstance(out, tuple) else out).float().sum().backward()
    return run


def block_sweep(device, repeats, sizes):
    from mmcv.cnn import NonLocal3d

    from snl_plugins import NL, SNL
    rows = []
    for size in sizes:
        t, h, w = map(int, size.split('x'))
        x = torch.randn(1, 1024, t, h, w, device=device, requires_grad=True)
        blocks = {
            'SNL (ours)': SNL(1024, reduction=2, dim=3),
            'NL (ours, embedded Gaussian)': NL(1024, reduction=2, dim=3),
            'mmcv NonLocal3d (embedded Gaussian)': NonLocal3d(1024, reduction=2, sub_sample=False,
                                                               mode='embedded_gaussian'),
        }
        for name, block in blocks.items():
            block.to(device).train()
            sec, peak = measure(_step(block, x), device, repeats)
            rows.append(dict(kind='block', size=size, model=name, ms=1e3 * sec,
                             peak_mib=None if peak is None else peak / 2 ** 20))
            print(f'{size:>9} {name:<40} {1e3 * sec:9.2f} ms  '
                  f'{"" if peak is None else f"{peak / 2 ** 20:9.1f} MiB"}', flush=True)
    return rows


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


def backbone_sweep(device, repeats, sizes):
    import snl_plugins  # noqa: F401
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    cases = {'I3D-R50': _i3d(), 'I3D-R50 + mmcv NL x5 (mmaction2 placement)': _i3d(non_local=True),
             'I3D-R50 + SNL (paper placement)': _i3d(blocks=[dict(type='SNL', at='layer3.-1', position='before')])}
    rows = []
    with DefaultScope.overwrite_default_scope('mmaction'):
        for size in sizes:
            t, h, w = map(int, size.split('x'))
            x = torch.randn(1, 3, t, h, w, device=device)
            for name, cfg in cases.items():
                model = MODELS.build(cfg)
                model.init_weights()
                model.to(device).train()
                sec, peak = measure(_step(model, x), device, repeats)
                rows.append(dict(kind='backbone', size=size, model=name, ms=1e3 * sec,
                                 peak_mib=None if peak is None else peak / 2 ** 20))
                print(f'{size:>10} {name:<45} {1e3 * sec:9.2f} ms  '
                      f'{"" if peak is None else f"{peak / 2 ** 20:9.1f} MiB"}', flush=True)
                del model
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--sizes', nargs='+', default=list(BLOCK_SIZES), help='block sweep T x H x W sizes')
    p.add_argument('--backbone-sizes', nargs='+', default=list(BACKBONE_SIZES))
    p.add_argument('--blocks-only', action='store_true')
    p.add_argument('--out', help='write the rows as JSON here')
    a = p.parse_args(argv)
    device = torch.device(a.device)
    rows = block_sweep(device, a.repeats, a.sizes)
    if not a.blocks_only:
        rows += backbone_sweep(device, a.repeats, a.backbone_sizes)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(dict(device=str(device), torch=torch.__version__,
                                               gpu=torch.cuda.get_device_name(device) if device.type == 'cuda' else None,
                                               rows=rows), indent=1))
    return rows


if __name__ == '__main__':
    main()
