"""ONNX Runtime (CPU) latency against PyTorch eager for the same input, one model of each family
(``tools/deploy/benchmark_onnx.py``; figures in ``docs/benchmarks.md`` and ``docs/deploy.md``).

Every model is built from its config or timm name with random weights (no checkpoint needed; latency does not depend
on the values), its blocks' norms set to 1 (:func:`~snl_plugins.deploy.models.activate_blocks`) so that the ONNX
check sees them, exported with the TorchScript exporter at the benchmark input (static shape) and checked as
``export_onnx.py`` checks. Time: in one process, eager forward (``torch.no_grad``, eval mode) and the ONNX Runtime
session alternate on the same input, one warm-up call each, then ``repeats`` rounds (the order flips every round);
medians and minima in ms. Both run with ``threads`` intra-op threads (default 1: on a shared machine one thread is
what measures steadily, and it compares the kernels rather than their threading).
"""
from __future__ import annotations

import datetime
import os
import os.path as osp
import platform
import statistics
import time
from typing import Dict, List, Optional, Sequence

import torch

__all__ = ['PRESETS', 'custom_entries', 'time_pair', 'benchmark_entry', 'run_benchmark', 'markdown']

# One model of each family at a size a CPU runs in seconds; paths relative to the repository root. RTM's config names
# a local ImageNet file that is loaded when the model is built, hence pretrained=None.
PRESETS: List[dict] = [
    dict(key='resnet50_snl', label='ResNet-50 + SNL (timm `resnet50_snl`)', timm='resnet50_snl',
         shape=(1, 3, 224, 224)),
    dict(key='resnet50_gsnl', label='ResNet-50 + gSNL (timm `resnet50_gsnl`)', timm='resnet50_gsnl',
         shape=(1, 3, 224, 224)),
    dict(key='i3d_snl', label='I3D-R50 + SNL (one clip)',
         config='configs/recognition/i3d/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py', shape=(1, 3, 8, 112, 112)),
    dict(key='p3d_snl', label='P3D-R50 + SNL (one clip)',
         config='configs/recognition/p3d/p3d_r50-snl_8xb8-16x2x1-100e_ucf101-split1-rgb.py',
         shape=(1, 3, 16, 112, 112)),
    dict(key='deeplabv3_snl', label='DeepLabV3-R50-D8 + SNL (whole image)',
         config='configs/segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py',
         shape=(1, 3, 512, 512)),
    dict(key='deeplabv3_snl_dense', label='DeepLabV3-R50-D8 + SNL, `--block-path dense`',
         config='configs/segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py',
         shape=(1, 3, 512, 512), block_path='dense'),
    dict(key='deeplabv3plus_snl', label='DeepLabV3+-R50-D8 + SNL (whole image)',
         config='configs/segmentation/deeplabv3plus/deeplabv3plus_r50-d8-snl_4xb4-20k_voc12aug-512x512.py',
         shape=(1, 3, 512, 512)),
    dict(key='rtmtp_snl', label='RTMtp-R50 + SNL (re-ID, one clip)',
         config='configs/reid/rtmtp_r50-snl_1xp8k4-800e_mars.py', cfg_options={'model.pretrained': None},
         shape=(1, 4, 3, 224, 112)),
    dict(key='vtn_snl', label='VTN-R34 + SNL (one clip)',
         config='configs/recognition/vtn/vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb.py',
         shape=(1, 16, 3, 224, 224)),
]


def custom_entries(timm_names: Sequence[str] = (), configs: Sequence[str] = (),
                   shape: Optional[Sequence[int]] = None) -> List[dict]:
    """Entries for timm names and configs given on the command line (``shape`` None: the model's default)."""
    out = [dict(key=n, label=n, timm=n, shape=shape) for n in timm_names]
    out += [dict(key=osp.splitext(osp.basename(c))[0], label=osp.basename(c), config=c, shape=shape)
            for c in configs]
    return out


def time_pair(eager, session_run, repeats: int) -> Dict[str, List[float]]:
    """Seconds of each call of ``eager()`` and ``session_run()``, alternating (the order flips every round) after a
    warm-up call each."""
    eager()
    session_run()
    times: Dict[str, List[float]] = {'eager': [], 'onnxruntime': []}
    calls = (('eager', eager), ('onnxruntime', session_run))
    for r in range(repeats):
        for name, fn in (calls if r % 2 == 0 else calls[::-1]):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def _build(entry: dict, root: str):
    from .models import build_from_config, build_timm
    if 'timm' in entry:
        return build_timm(entry['timm'])
    config = entry['config'] if osp.isabs(entry['config']) else osp.join(root, entry['config'])
    return build_from_config(config, cfg_options=entry.get('cfg_options'))


def benchmark_entry(entry: dict, repeats: int = 5, threads: int = 1, block_path: str = 'config',
                    work_dir: str = 'work_dirs/benchmark_onnx', root: Optional[str] = None) -> dict:
    """Build, export, check and time one model (see the module docstring); returns its row."""
    from .models import activate_blocks
    from .onnx_export import export_and_verify, onnxruntime_session, run_onnxruntime
    torch.manual_seed(0)
    inference = _build(entry, root or os.getcwd())
    activate_blocks(inference.module)
    path = osp.join(work_dir, f'{entry["key"]}.onnx')
    shape = tuple(entry.get('shape') or inference.input_shape)
    result = export_and_verify(inference, path, shape=shape, block_path=entry.get('block_path', block_path))
    session = onnxruntime_session(path, threads=threads)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))

    def eager():
        with torch.no_grad():
            return inference.module(x)

    times = time_pair(eager, lambda: run_onnxruntime(session, x), repeats)
    eager_ms, ort_ms = (1e3 * statistics.median(times[k]) for k in ('eager', 'onnxruntime'))
    forms = sorted({b['form'] for b in result.blocks})
    return dict(key=entry['key'], label=entry['label'], family=inference.family, input=list(shape),
                block_forms=forms, blocks=result.blocks, eager_ms=eager_ms, onnxruntime_ms=ort_ms,
                eager_min_ms=1e3 * min(times['eager']), onnxruntime_min_ms=1e3 * min(times['onnxruntime']),
                speedup=eager_ms / ort_ms, times_s=times, max_abs_diff=result.max_abs_diff, ok=result.ok,
                export_s=result.export_seconds, file_mb=result.file_mb, onnx=path)


def _machine() -> dict:
    import onnx
    import onnxruntime
    cpu = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')), cpu)
    except OSError:
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), torch=torch.__version__,
                onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)


def run_benchmark(entries: Sequence[dict], repeats: int = 5, threads: int = 1, block_path: str = 'config',
                  work_dir: str = 'work_dirs/benchmark_onnx', root: Optional[str] = None, command: str = '') -> dict:
    """Every entry in turn, with ``threads`` torch threads (restored afterwards); the report with the machine, the
    load average before and after, and one row per entry."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    load = os.getloadavg() if hasattr(os, 'getloadavg') else None
    start = time.time()
    try:
        rows = []
        for entry in entries:
            rows.append(benchmark_entry(entry, repeats, threads, block_path, work_dir, root))
            print(f'{entry["key"]}: eager {rows[-1]["eager_ms"]:.1f} ms, onnxruntime {rows[-1]["onnxruntime_ms"]:.1f} '
                  f'ms', flush=True)
    finally:
        torch.set_num_threads(previous)
    return dict(date=datetime.date.today().isoformat(), command=command, machine=_machine(), threads=threads,
                repeats=repeats, block_path=block_path, load_before=load,
                load_after=os.getloadavg() if load else None, seconds=time.time() - start, rows=rows)


def markdown(report: dict) -> str:
    """The report as a markdown table with its conditions."""
    m = report['machine']
    lines = [f'ONNX Runtime {m["onnxruntime"]} (CPU) vs PyTorch {m["torch"]} eager, {report["threads"]} thread(s), '
             f'float32, median of {report["repeats"]} alternating rounds after a warm-up; {m["cpu"]}, '
             f'load average {_load(report["load_before"])} before, {_load(report["load_after"])} after '
             f'({report["date"]}).', '',
             '| model | family | input | block path traced | PyTorch eager, median (min) | ONNX Runtime, median (min) '
             '| eager / ORT (medians) | max abs diff |', '|---|---|---|---|---|---|---|---|']
    for r in report['rows']:
        diff = f'{r["max_abs_diff"]:.1e}' + ('' if r['ok'] else ' (over tolerance)')
        lines.append(f'| {r["label"]} | {r["family"]} | {"x".join(map(str, r["input"]))} | '
                     f'{", ".join(r["block_forms"])} | {r["eager_ms"]:,.1f} ({r["eager_min_ms"]:,.1f}) ms | '
                     f'{r["onnxruntime_ms"]:,.1f} ({r["onnxruntime_min_ms"]:,.1f}) ms | {r["speedup"]:.2f}x | {diff} |')
    if report.get('command'):
        lines += ['', f'Command: `{report["command"]}`']
    return '\n'.join(lines)


def _load(load) -> str:
    return '/'.join(f'{v:.1f}' for v in load) if load else 'n/a'
