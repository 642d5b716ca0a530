"""The GPU check (``tools/analysis/gpu_check.sh``): one short run that records what a CUDA machine does with the
blocks, written as ``DIR/gpu_check.json`` and ``DIR/gpu_check.md``.

Sections, each timed and guarded (a failure is recorded in the JSON and the next section runs):

- ``device``: the GPU (name, capability, memory), torch / CUDA / cuDNN and the OpenMMLab packages' versions.
- ``matmul``: dense matrix-product rate (8192^3 ``torch.mm``) in float16, bfloat16, TF32 and float32, CUDA events.
- ``precision``: ``tools/analysis/precision_matrix.py`` as a subprocess (``--device cuda --modes float32 tf32
  autocast-float16 autocast-bfloat16 half bfloat16 --out DIR/precision``), its exit status and files.
- ``blocks``: forward + backward and forward only, autocast float16 and float32 (TF32 off), of SNL (factorised),
  gSNL (factorised), NL (fused SDPA), mmcv's ``NonLocal2d/3d`` and timm's ``NonLocalAttn`` at 64x64 and 128x128
  (B 8, C1 512, Cs 256) and 16x28x28 (B 2, C1 1024, Cs 512): time (CUDA events, warm-up first, median), peak
  memory (``torch.cuda.max_memory_allocated``), finiteness; out of memory is recorded per case.
- ``train``: a few ``tools/train.py --amp`` iterations of I3D-R50 + SNL and DeepLabV3-R50 + SNL (our configs, data
  written locally: :func:`snl_plugins.demos.video.write_moving_digits`, :func:`snl_plugins.demos.scenes.
  write_digit_scenes`), with the losses, the loss scale and skipped steps read by :class:`AmpProbeHook`.

The goals: SNL factorised, autocast float16, 128x128, B 8, C1 512, Cs 256, forward + backward, is >= 5x faster than
mmcv's ``NonLocal2d`` and reaches >= 50% of the float16 matrix-product rate of the same run (analytic FLOPs:
:func:`snl_factorised_flops`).

Without CUDA the same sections run on the CPU at toy sizes (``quick``; the report says that no GPU was found), which
is what the test suite runs. :func:`main` is ``tools/analysis/gpu_check.py``.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ('device', 'matmul', 'precision', 'blocks', 'train')
GOALS = dict(speedup_vs_mmcv=5.0, share_of_fp16_matmul=0.5)
PRECISION_MODES = ('float32', 'tf32', 'autocast-float16', 'autocast-bfloat16', 'half', 'bfloat16')
VARIANTS = ('SNL factorised', 'gSNL factorised', 'NL fused (SDPA)', 'mmcv NonLocal', 'timm NonLocalAttn')
BLOCK_TYPES = ('SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL')

__all__ = ['SECTIONS', 'GOALS', 'VARIANTS', 'plan_for', 'snl_factorised_flops', 'run_check', 'to_markdown',
           'AmpProbeHook', 'main']


# ----------------------------------------------------------------------------------------------------- the plan
def plan_for(device: str, quick: bool) -> dict:
    """Sizes and repetitions: the real ones on a GPU, toy ones for the CPU fallback (or ``--quick``)."""
    if not quick:
        return dict(
            matmul=dict(n=8192, dtypes=('float16', 'bfloat16', 'tf32', 'float32'), seconds=0.5),
            # the goal case first, so that a run cut short by its time limit still has it
            blocks=dict(cases=[dict(name='128x128', spatial=(128, 128), batch=8, c=512, cs=256, goal=True),
                               dict(name='64x64', spatial=(64, 64), batch=8, c=512, cs=256),
                               dict(name='16x28x28', spatial=(16, 28, 28), batch=2, c=1024, cs=512)],
                        dtypes=('float16', 'float32'), warmup=2, seconds=0.6, min_iters=3, max_iters=50),
            precision=dict(args=['--device', device, '--modes', *PRECISION_MODES, '--shapes', '1x64x64x64',
                                 '1x64x128x128', '1x64x16x56x56', '--scales', '0.01', '1', '100', '1000'],
                           timeout=150),
            train=dict(iters=4, workers=4, real_size=True, timeout=150),
            half='float16')
    half = 'float16' if device == 'cuda' else 'bfloat16'
    return dict(
        matmul=dict(n=256, dtypes=(half, 'float32') if device == 'cpu' else ('float16', 'bfloat16', 'tf32',
                                                                               'float32'), seconds=0.05),
        blocks=dict(cases=[dict(name='16x16', spatial=(16, 16), batch=2, c=32, cs=16, goal=True),
                           dict(name='8x8', spatial=(8, 8), batch=2, c=32, cs=16),
                           dict(name='4x6x6', spatial=(4, 6, 6), batch=1, c=32, cs=16)],
                    dtypes=(half, 'float32'), warmup=0, seconds=0.0, min_iters=2, max_iters=2),
        precision=dict(args=['--device', device, '--quick'], timeout=120),
        train=dict(iters=2, workers=0, real_size=False, timeout=120),
        half=half)


def snl_factorised_flops(n: int, batch: int, c: int, cs: int) -> int:
    """Forward FLOPs (2 per multiply-add) of the factorised SNL block with the symmetric dot affinity: the
    projections phi, psi, g (3 x 2 B N C1 Cs), the two products with the rank-2Cs factors (2 x 2 B N Cs 2Cs) and the
    outputs w1, w2 (2 x 2 B N Cs C1). Forward + backward is about 3x this."""
    return 2 * batch * n * (3 * c * cs + 2 * cs * 2 * cs + 2 * cs * c)


# ------------------------------------------------------------------------------------------------------ helpers
class _Terminated(BaseException):
    """SIGTERM (the shell script's global ``timeout``): record, write the report, leave."""


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise _Terminated()


class Budget:
    def __init__(self, seconds: float):
        self.start = time.perf_counter()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()


def _sync(device: str) -> None:
    import torch
    if device == 'cuda':
        torch.cuda.synchronize()


@contextlib.contextmanager
def _tf32(enabled: bool):
    """TF32 for CUDA matmuls and convolutions on or off (restored after)."""
    import torch
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _time_steps(step: Callable[[], object], device: str, warmup: int, seconds: float, min_iters: int,
                max_iters: int) -> dict:
    """Median / min seconds of ``step`` after ``warmup`` calls: CUDA events per call on a GPU, ``perf_counter`` on
    the CPU; the number of calls is what fits in ``seconds`` (within ``[min_iters, max_iters]``)."""
    import torch
    for _ in range(warmup):
        step()
    _sync(device)
    t0 = time.perf_counter()
    step()
    _sync(device)
    est = time.perf_counter() - t0
    iters = int(min(max_iters, max(min_iters, seconds / max(est, 1e-9))))
    times = []
    for _ in range(iters):
        if device == 'cuda':
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    return dict(median=statistics.median(times), min=min(times), iters=iters)


def _error(err: BaseException) -> str:
    return f'{type(err).__name__}: {str(err).strip().splitlines()[0][:300] if str(err).strip() else ""}'


def _version(dist: str) -> Optional[str]:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _env() -> dict:
    env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def _tail(text: str, n: int = 3000) -> str:
    return text[-n:] if text else ''


# ------------------------------------------------------------------------------------------------------ sections
def section_device(ctx: dict) -> dict:
    import torch
    out = dict(cuda_available=torch.cuda.is_available(), device=ctx['device'], torch=torch.__version__,
               cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available()
               else None, python=platform.python_version(), executable=sys.executable,
               platform=platform.platform(), cpu=platform.processor() or platform.machine(), cpu_count=os.cpu_count(),
               environment=os.environ.get('SNL_GPU_CHECK_ENV'),
               packages={d: _version(d) for d in ('mmengine', 'mmcv', 'mmcv-lite', 'mmaction2', 'mmsegmentation',
                                                  'timm', 'decord', 'numpy', 'triton')})
    if ctx['device'] == 'cuda':
        props = torch.cuda.get_device_properties(0)
        out.update(name=torch.cuda.get_device_name(0),
                   capability='.'.join(map(str, torch.cuda.get_device_capability(0))),
                   memory_gib=round(props.total_memory / 2 ** 30, 1), multiprocessors=props.multi_processor_count,
                   device_count=torch.cuda.device_count())
        try:
            smi = subprocess.run(['nvidia-smi', '--query-gpu=driver_version,clocks.max.sm', '--format=csv,noheader'],
                                 capture_output=True, text=True, timeout=20)
            out['nvidia_smi'] = smi.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            out['nvidia_smi'] = None
    else:
        out.update(name='no GPU (CPU fallback)', torch_threads=torch.get_num_threads())
    print('  device: ' + (f"{out['name']}, " if 'name' in out else '') + f"torch {out['torch']}, packages: "
          + ', '.join(f'{k} {v or "MISSING"}' for k, v in out['packages'].items() if k != 'mmcv'), flush=True)
    return out


_DTYPES = {'float16': 'float16', 'bfloat16': 'bfloat16', 'tf32': 'float32', 'float32': 'float32'}


def section_matmul(ctx: dict) -> dict:
    """Dense n^3 matrix-product rate per dtype, in TFLOP/s (2 n^3 FLOPs a product)."""
    import torch
    p, dev = ctx['plan']['matmul'], ctx['device']
    n, rates, times = p['n'], {}, {}
    for name in p['dtypes']:
        dtype = getattr(torch, _DTYPES[name])
        g = torch.Generator(device=dev).manual_seed(0)
        a = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
        b = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
        with _tf32(name == 'tf32'):
            t = _time_steps(lambda: torch.mm(a, b), dev, warmup=3, seconds=p['seconds'], min_iters=3, max_iters=200)
        rates[name] = 2 * n ** 3 / t['median'] / 1e12
        times[name] = dict(median_ms=t['median'] * 1e3, min_ms=t['min'] * 1e3, iters=t['iters'],
                           best_tflops=2 * n ** 3 / t['min'] / 1e12)
        del a, b
    if dev == 'cuda':
        torch.cuda.empty_cache()
    return dict(n=n, tflops=rates, timing=times)


def section_precision(ctx: dict) -> dict:
    script = ROOT / 'tools' / 'analysis' / 'precision_matrix.py'
    out_dir = ctx['out'] / 'precision'
    args = list(ctx['plan']['precision']['args']) + ['--out', str(out_dir)]
    cmd = [sys.executable, str(script)] + args
    rec = dict(command=' '.join([Path(sys.executable).name, str(script.relative_to(ROOT))] + args), out=str(out_dir))
    if not script.is_file():
        return dict(rec, status='missing', note=f'{script.relative_to(ROOT)} does not exist (yet)')
    timeout = max(10.0, min(ctx['plan']['precision']['timeout'], ctx['budget'].left() - ctx['reserve']('precision')))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        return dict(rec, status='timeout', timeout_s=timeout, seconds=time.perf_counter() - t0,
                    output_tail=_tail((err.stdout or b'').decode(errors='replace') if isinstance(err.stdout, bytes)
                                      else (err.stdout or '')))
    rec.update(returncode=proc.returncode, seconds=time.perf_counter() - t0, timeout_s=timeout,
               files=sorted(str(p.relative_to(ctx['out'])) for p in out_dir.rglob('*') if p.is_file())
               if out_dir.is_dir() else [])
    (ctx['out'] / 'precision_stdout.log').write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        rec['output_tail'] = _tail(proc.stdout + proc.stderr)
    js = out_dir / 'precision.json'
    if js.is_file():
        try:
            data = json.loads(js.read_text())
            rec['summary'] = _precision_summary(data)
        except (ValueError, OSError) as err:
            rec['summary'] = f'unreadable precision.json: {err}'
    rec['status'] = 'ok' if proc.returncode == 0 and js.is_file() else 'failed'
    return rec


def _precision_summary(data) -> dict:
    """What the report shows of precision.json, whatever its exact layout: its top-level keys, and counts of
    entries that say pass / fail if it has such."""
    summary = dict(keys=sorted(data)[:20] if isinstance(data, dict) else None)
    flags = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ('ok', 'pass', 'passed', 'within_tolerance') and isinstance(v, bool):
                    flags.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(data)
    if flags:
        summary.update(checks=len(flags), passed=sum(flags))
    return summary


def _builders(c: int, cs: int, dim: int) -> Dict[str, Callable]:
    from snl_plugins import NL, SNL, gSNL

    def mmcv():
        from mmcv.cnn import NonLocal2d, NonLocal3d
        return (NonLocal2d if dim == 2 else NonLocal3d)(c, reduction=c // cs, use_scale=True,
                                                         mode='embedded_gaussian')

    def timm_nl():
        if dim != 2:
            raise _NotApplicable('timm NonLocalAttn is 2D only')
        from timm.layers import NonLocalAttn
        return NonLocalAttn(c, rd_channels=cs)

    return {
        'SNL factorised': lambda: SNL(c, inter_channels=cs, path='factorised', dim=dim, zero_init=False),
        'gSNL factorised': lambda: gSNL(c, inter_channels=cs, path='factorised', dim=dim, zero_init=False),
        'NL fused (SDPA)': lambda: NL(c, inter_channels=cs, dim=dim, zero_init=False),
        'mmcv NonLocal': mmcv,
        'timm NonLocalAttn': timm_nl,
    }


class _NotApplicable(Exception):
    pass


def _bench_one(build: Callable, case: dict, dtype: str, mode: str, ctx: dict) -> dict:
    import torch
    dev, p = ctx['device'], ctx['plan']['blocks']
    torch.manual_seed(0)
    block = build().to(dev)
    x = torch.randn(case['batch'], case['c'], *case['spatial'], device=dev)
    cast = dict(device_type=dev, dtype=getattr(torch, dtype), enabled=dtype != 'float32')
    if mode == 'fwd+bwd':
        block.train()
        x.requires_grad_(True)

        def step():
            block.zero_grad(set_to_none=True)
            x.grad = None
            with torch.autocast(**cast):
                y = block(x)
            y.float().square().mean().backward()
    else:
        block.eval()

        def step():
            with torch.inference_mode(), torch.autocast(**cast):
                return block(x)
    with _tf32(False):
        step()
        if mode == 'fwd+bwd':
            grads = [x.grad] + [q.grad for q in block.parameters() if q.grad is not None]
            finite = all(bool(torch.isfinite(g).all()) for g in grads)
        else:
            finite = bool(torch.isfinite(step()).all())
        t = _time_steps(step, dev, p['warmup'], p['seconds'], p['min_iters'], p['max_iters'])
        peak = rise = None
        if dev == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            step()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
            rise = peak - base
    return dict(time_ms=t['median'] * 1e3, time_min_ms=t['min'] * 1e3, iters=t['iters'], finite=finite,
                peak_mib=None if peak is None else peak / 2 ** 20, rise_mib=None if rise is None else rise / 2 ** 20)


def section_blocks(ctx: dict) -> dict:
    import torch
    dev, p = ctx['device'], ctx['plan']['blocks']
    rows, t0 = [], time.perf_counter()
    for case in p['cases']:
        spatial, n = tuple(case['spatial']), math.prod(case['spatial'])
        builders = _builders(case['c'], case['cs'], len(spatial))
        for dtype in p['dtypes']:
            for mode in ('fwd+bwd', 'forward'):
                for variant in VARIANTS:
                    row = dict(case=case['name'], spatial='x'.join(map(str, spatial)), n=n, batch=case['batch'],
                               c=case['c'], cs=case['cs'], variant=variant, dtype=dtype, mode=mode,
                               goal_case=bool(case.get('goal')))
                    if (ctx['budget'].left() < ctx['reserve']('blocks')
                            or time.perf_counter() - t0 > BLOCKS_CAP_S):
                        rows.append(dict(row, status='skipped', error='time budget spent'))
                        continue
                    try:
                        row.update(_bench_one(builders[variant], case, dtype, mode, ctx), status='ok')
                    except _NotApplicable as err:
                        continue
                    except torch.cuda.OutOfMemoryError as err:
                        row.update(status='oom', error=_error(err))
                    except _Terminated:
                        raise
                    except Exception as err:  # noqa: BLE001  (recorded per case, the sweep goes on)
                        row.update(status='error', error=_error(err))
                    gc.collect()
                    if dev == 'cuda':
                        torch.cuda.empty_cache()
                    rows.append(row)
                    if row['status'] == 'ok':
                        print(f"  blocks: {row['case']:>9} {dtype:8s} {mode:8s} {variant:18s} "
                              f"{row['time_ms']:9.2f} ms" + (f" {row['peak_mib']:9.0f} MiB" if row['peak_mib']
                                                             is not None else ''), flush=True)
                    else:
                        print(f"  blocks: {row['case']:>9} {dtype:8s} {mode:8s} {variant:18s} {row['status']}: "
                              f"{row.get('error', '')}", flush=True)
    _annotate(rows, ctx)
    return dict(rows=rows, flops_note='SNL factorised rows: analytic FLOPs (snl_factorised_flops), x3 for fwd+bwd; '
                'share = achieved / dense matmul rate of the same dtype in this run', tf32='off in every block case')


def _annotate(rows: List[dict], ctx: dict) -> None:
    """Speed-up against mmcv's block of the same case / dtype / mode, and the SNL rows' arithmetic rate."""
    rates = (ctx['results'].get('matmul') or {}).get('tflops') or {}
    ref = {(r['case'], r['dtype'], r['mode']): r for r in rows if r['variant'] == 'mmcv NonLocal' and
           r.get('status') == 'ok'}
    for r in rows:
        if r.get('status') != 'ok':
            continue
        m = ref.get((r['case'], r['dtype'], r['mode']))
        if m:
            r['speedup_vs_mmcv'] = m['time_ms'] / r['time_ms']
        if r['variant'] == 'SNL factorised':
            flops = snl_factorised_flops(r['n'], r['batch'], r['c'], r['cs']) * (3 if r['mode'] == 'fwd+bwd' else 1)
            r['gflop'] = flops / 1e9
            r['tflops'] = flops / (r['time_ms'] / 1e3) / 1e12
            if rates.get(r['dtype']):
                r['share_of_matmul'] = r['tflops'] / rates[r['dtype']]


def goals(results: dict, plan: dict, device: str) -> dict:
    """The two recorded goals, from the goal case (SNL factorised, the plan's half dtype, fwd+bwd)."""
    rows = ((results.get('blocks') or {}).get('rows')) or []
    rates = ((results.get('matmul') or {}).get('tflops')) or {}
    half = plan['half']
    out = dict(evaluated=device == 'cuda' and half == 'float16',
               targets=dict(GOALS), dtype=half, note=None if device == 'cuda' else
               'no GPU: CPU fallback at toy sizes; these figures are not the goals\' GPU figures')

    def pick(variant, mode):
        for r in rows:
            if (r['goal_case'] and r['variant'] == variant and r['dtype'] == half and r['mode'] == mode
                    and r.get('status') == 'ok'):
                return r
        return None
    for mode in ('fwd+bwd', 'forward'):
        snl, mm = pick('SNL factorised', mode), pick('mmcv NonLocal', mode)
        rec = dict(case=snl['case'] if snl else None, snl_ms=snl and snl['time_ms'], mmcv_ms=mm and mm['time_ms'],
                   speedup_vs_mmcv=(mm['time_ms'] / snl['time_ms']) if snl and mm else None,
                   snl_tflops=snl and snl['tflops'], matmul_tflops=rates.get(half),
                   share_of_fp16_matmul=snl.get('share_of_matmul') if snl else None)
        # met / not met only where the goals apply (CUDA, float16); None otherwise
        rec['speedup_met'] = None if rec['speedup_vs_mmcv'] is None or not out['evaluated'] else (
            rec['speedup_vs_mmcv'] >= GOALS['speedup_vs_mmcv'])
        rec['share_met'] = None if rec['share_of_fp16_matmul'] is None or not out['evaluated'] else (
            rec['share_of_fp16_matmul'] >= GOALS['share_of_fp16_matmul'])
        out[mode] = rec
    fb = out['fwd+bwd']
    out['met'] = (bool(fb['speedup_met'] and fb['share_met']) if out['evaluated'] and None not in
                  (fb['speedup_met'], fb['share_met']) else None)
    return out


# -------------------------------------------------------------------------------------------------- training
def _register_probe():
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    if 'AmpProbeHook' in HOOKS.module_dict:
        return HOOKS.module_dict['AmpProbeHook']

    class AmpProbeHook(Hook):
        """Writes one JSON line per training iteration to ``out_file``: the loss, whether it is finite, the optimizer
        wrapper's loss scale (``None`` without a scaler) and skipped steps (the wrapper's count where it keeps one,
        else the iterations after which the dynamic scale fell); the first line also names the wrapper, its autocast
        dtype and the dtypes the non-local blocks saw and returned."""
        priority = 'VERY_LOW'

        def __init__(self, out_file: str):
            self.out_file = out_file
            self.block_dtypes: Dict[str, List[str]] = {}
            self._handles = []
            self._last_scale = None
            self._fell = 0

        def before_train(self, runner):
            import torch
            wrapper = runner.optim_wrapper
            head = dict(event='start', wrapper=type(wrapper).__name__,
                        cast_dtype=str(getattr(wrapper, 'cast_dtype', None)), cuda=torch.cuda.is_available())
            for name, m in runner.model.named_modules():
                if type(m).__name__ in BLOCK_TYPES and not self._handles:
                    self._handles.append(m.register_forward_hook(self._see(name)))
            Path(self.out_file).parent.mkdir(parents=True, exist_ok=True)
            with open(self.out_file, 'w') as f:
                f.write(json.dumps(head) + '\n')

        def _see(self, name):
            def hook(module, inputs, output):
                if name not in self.block_dtypes:
                    x = inputs[0] if inputs else None
                    self.block_dtypes[name] = [str(getattr(x, 'dtype', None)), str(getattr(output, 'dtype', None)),
                                               type(module).__name__]
            return hook

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            loss = None
            if isinstance(outputs, dict) and 'loss' in outputs:
                try:
                    loss = float(outputs['loss'])
                except (TypeError, ValueError):
                    loss = None
            wrapper = runner.optim_wrapper
            scaler = getattr(wrapper, 'loss_scaler', None)
            scale = None
            if scaler is not None and getattr(scaler, 'is_enabled', lambda: True)():
                scale = float(scaler.get_scale())
            if scale is not None and self._last_scale is not None and scale < self._last_scale:
                self._fell += 1
            self._last_scale = scale if scale is not None else self._last_scale
            skipped = getattr(wrapper, 'skipped_steps', None)
            rec = dict(event='iter', iter=runner.iter + 1, loss=loss,
                       finite=loss is not None and math.isfinite(loss), loss_scale=scale,
                       skipped_steps=int(skipped) if skipped is not None else (self._fell if scale is not None
                                                                                else None),
                       block_dtypes=self.block_dtypes)
            with open(self.out_file, 'a') as f:
                f.write(json.dumps(rec) + '\n')

        def after_train(self, runner):
            for h in self._handles:
                h.remove()

    HOOKS.register_module(module=AmpProbeHook)
    return AmpProbeHook


try:  # registered on import (a training config's custom_imports names this module)
    AmpProbeHook = _register_probe()
except ImportError:  # no mmengine: the other sections still run
    AmpProbeHook = None


def _runner_has_cpu_amp() -> bool:
    try:
        from snl_plugins import apis as runner
    except ImportError:
        return False
    return hasattr(runner, 'AMP_DTYPES')


_I3D_CPU_HOST = ("depth=18, base_channels=16, inflate=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1, "
                 "with_pool2=False, pretrained=None")
_I3D_CPU_PIPELINE = '''
train_pipeline = [dict(type='DecordInit', io_backend='disk'),
                  dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1),
                  dict(type='DecordDecode'), dict(type='FormatShape', input_format='NCTHW'),
                  dict(type='PackActionInputs')]
'''


def _i3d_config(path: Path, data: dict, batch: int, iters: int, workers: int, real: bool, probe: Path) -> Path:
    """I3D-R50 + SNL (our UCF-101 config, mmaction2's pipeline: 32 frames at 224 x 224) on the moving-digits clips;
    toy: the demo's narrow ResNet3d-18 at 8 x 32 x 64."""
    base = ROOT / 'configs/recognition/i3d/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py'
    if real:
        model = "model = dict(backbone=dict(module=dict(pretrained=None)), cls_head=dict(num_classes=3))"
        pipeline = 'train_pipeline = {{_base_.train_pipeline}}'
    else:
        model = (f"model = dict(backbone=dict(module=dict({_I3D_CPU_HOST})), "
                 "cls_head=dict(num_classes=3, in_channels=128))")
        pipeline = _I3D_CPU_PIPELINE
    root = data['root']
    path.write_text(f'''_base_ = ['{base}']
# gpu_check: a few training iterations of I3D + SNL on locally written clips (UCF-101 layout)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.datasets', 'snl_plugins.analysis.gpu_check'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='AmpProbeHook', out_file='{probe}')]
{model}
load_from = None
{pipeline}
train_dataloader = dict(batch_size={batch}, num_workers={workers}, persistent_workers=False,
                        dataset=dict(num_classes=3, ann_file='{root}/ucf101_train_split_1_videos.txt',
                                     data_prefix=dict(video='{root}/UCF-101'), pipeline=train_pipeline))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters}, val_interval={10 ** 9})
default_hooks = dict(logger=dict(interval=1), checkpoint=None)
randomness = dict(seed=0)
''')
    return path


def _seg_config(path: Path, data_root: str, batch: int, iters: int, workers: int, real: bool, probe: Path) -> Path:
    """DeepLabV3-R50-D8 + SNL (our VOC config, mmseg's 512 x 512 training pipeline) on digit scenes in VOC's
    layout; toy: the demo's DeepLabV3-R18 + SNL at 64 x 64."""
    if real:
        base = ROOT / 'configs/segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py'
        dataset = (f"dict(type='PascalVOCDataset', data_root='{data_root}', "
                   "ann_file='ImageSets/Segmentation/train.txt', "
                   "data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'), "
                   "pipeline={{_base_.train_pipeline}})")
        model = "model = dict(pretrained=None)"
    else:
        base = ROOT / 'configs/segmentation/demo/deeplabv3_r18-d8-snl_1xb8-1200it_digits-64x64.py'
        dataset = (f"dict(type='BaseSegDataset', data_root='{data_root}', metainfo={{{{_base_.metainfo}}}}, "
                   "img_suffix='.jpg', seg_map_suffix='.png', ann_file='ImageSets/Segmentation/train.txt', "
                   "data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'), "
                   "pipeline={{_base_.train_pipeline}})")
        model = ''
    path.write_text(f'''_base_ = ['{base}']
# gpu_check: a few training iterations of DeepLabV3 + SNL on locally written digit scenes (VOC2012 layout)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmseg', 'snl_plugins.analysis.gpu_check'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='AmpProbeHook', out_file='{probe}')]
{model}
load_from = None
train_dataloader = dict(batch_size={batch}, num_workers={workers}, persistent_workers=False,
                        dataset=dict(type='CheckedConcatDataset', datasets=[{dataset}]))
train_cfg = dict(max_iters={iters}, val_interval={10 ** 9})
default_hooks = dict(logger=dict(interval=1), checkpoint=None)
randomness = dict(seed=0)
''')
    return path


def _read_probe(path: Path) -> dict:
    if not path.is_file():
        return dict(iterations=0)
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    head = next((ln for ln in lines if ln.get('event') == 'start'), {})
    its = [ln for ln in lines if ln.get('event') == 'iter']
    scales = [ln['loss_scale'] for ln in its]
    return dict(wrapper=head.get('wrapper'), cast_dtype=head.get('cast_dtype'), iterations=len(its),
                losses=[ln['loss'] for ln in its], finite=bool(its) and all(ln['finite'] for ln in its),
                loss_scale=scales if any(s is not None for s in scales) else None,
                skipped_steps=its[-1]['skipped_steps'] if its else None,
                block_dtypes=its[-1]['block_dtypes'] if its else None)


def section_train(ctx: dict) -> dict:
    p, dev, out = ctx['plan']['train'], ctx['device'], ctx['out'] / 'train'
    out.mkdir(parents=True, exist_ok=True)
    amp_args = ['--amp']
    amp_note = None
    if dev == 'cpu' and not _runner_has_cpu_amp():
        amp_args, amp_note = [], ('no GPU and this tools/train.py has no CPU mixed precision: ran in float32')
    elif ctx['amp_dtype'] and _runner_has_cpu_amp():  # --amp-dtype exists in this tools/train.py
        amp_args += ['--amp-dtype', ctx['amp_dtype']]
    runs = {}
    iters, real = p['iters'], p['real_size']
    specs = [('I3D-R50 + SNL' if real else 'I3D-R18 (narrow) + SNL', 'i3d', 8 if real else 3),
             ('DeepLabV3-R50-D8 + SNL' if real else 'DeepLabV3-R18 + SNL', 'deeplabv3', 4 if real else 2)]
    for i, (label, key, batch) in enumerate(specs):
        rec = dict(model=label, batch=batch, max_iters=iters, amp=bool(amp_args), amp_args=amp_args)
        if amp_note:
            rec['amp_note'] = amp_note
        runs[key] = rec
        left = ctx['budget'].left() - ctx['reserve']('train')
        if left < 20:
            rec.update(status='skipped', error='time budget spent')
            continue
        work, probe = out / key, out / key / 'amp_probe.jsonl'
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            if key == 'i3d':
                from snl_plugins.demos.video import write_moving_digits
                data = write_moving_digits(out / 'data' / 'ucf101', n_train_groups=1, n_test_groups=1,
                                           clips_per_group=max(1, math.ceil(batch / 3)))
                cfg = _i3d_config(work / 'config.py', data, batch, iters, p['workers'], real, probe)
            else:
                from snl_plugins.demos.scenes import write_digit_scenes
                data_root = write_digit_scenes(out / 'data' / 'digits', n_train=batch, n_val=1)
                cfg = _seg_config(work / 'config.py', data_root, batch, iters, p['workers'], real, probe)
        except _Terminated:
            raise
        except Exception as err:  # noqa: BLE001
            rec.update(status='failed', error=f'data / config: {_error(err)}', seconds=time.perf_counter() - t0)
            continue
        rec['data_seconds'] = time.perf_counter() - t0
        cmd = [sys.executable, 'tools/train.py', str(cfg), '--work-dir', str(work / 'run'), '--no-validate',
               *amp_args]
        rec['command'] = ' '.join(['python'] + [str(c) for c in cmd[1:]])
        timeout = max(20.0, min(p['timeout'], left / (len(specs) - i)))  # the runs still to come share what is left
        env = _env()
        if dev == 'cpu':
            env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
            log = proc.stdout + proc.stderr
            rec['returncode'] = proc.returncode
        except subprocess.TimeoutExpired as err:
            log = err.stdout.decode(errors='replace') if isinstance(err.stdout, bytes) else (err.stdout or '')
            rec['returncode'] = None
            rec['error'] = f'timeout after {timeout:.0f} s'
        rec['seconds'] = time.perf_counter() - t0
        (work / 'train.log').write_text(log)
        rec['log'] = str((work / 'train.log').relative_to(ctx['out']))
        rec.update(_read_probe(probe))
        ok = rec['returncode'] == 0 and rec['iterations'] == iters and rec['finite']
        rec['status'] = 'ok' if ok else 'failed'
        if not ok:
            rec['output_tail'] = _tail(log)
        print(f"  train: {label}: {rec['status']}, {rec['iterations']} iterations, losses {rec.get('losses')}, "
              f"loss scale {rec.get('loss_scale')}, {rec['seconds']:.0f} s", flush=True)
    status = 'ok' if all(r.get('status') == 'ok' for r in runs.values()) else 'failed'
    return dict(runs=runs, status=status)


# ---------------------------------------------------------------------------------------------------- running
_FUNCS = dict(device=section_device, matmul=section_matmul, precision=section_precision, blocks=section_blocks,
              train=section_train)
# GPU: seconds each section needs at least, kept back from the sections before it (the CPU fallback has no budget
# worries), and the most the block sweep may take
_NEEDS = dict(device=0, matmul=0, precision=30, blocks=120, train=120)
BLOCKS_CAP_S = 200.0


def run_check(out: str = 'work_dirs/gpu_check', device: Optional[str] = None, quick: Optional[bool] = None,
              sections: Sequence[str] = SECTIONS, time_limit: float = 460.0, amp_dtype: Optional[str] = 'float16',
              precision_timeout: Optional[float] = None) -> dict:
    """Run the sections, writing ``out/gpu_check.json`` and ``out/gpu_check.md`` after each; returns the report."""
    import torch
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: CUDA is not available')
    quick = device != 'cuda' if quick is None else quick
    plan = plan_for(device, quick)
    if precision_timeout is not None:
        plan['precision']['timeout'] = precision_timeout
    budget = Budget(time_limit)
    order = [s for s in SECTIONS if s in sections]

    def reserve(name):
        later = order[order.index(name) + 1:] if name in order else []
        return 0 if device != 'cuda' else sum(_NEEDS[s] for s in later) * min(1.0, time_limit / 460.0)

    report = dict(tool='snl_plugins gpu_check', started=time.strftime('%Y-%m-%d %H:%M:%S'), device=device,
                  gpu_found=torch.cuda.is_available(), quick=quick, time_limit_s=time_limit, out=str(out_dir),
                  plan=plan, sections={}, results={})
    if not torch.cuda.is_available():
        print('gpu_check: no GPU found (torch.cuda.is_available() is False): CPU fallback at toy sizes', flush=True)
    ctx = dict(device=device, plan=plan, out=out_dir, budget=budget, reserve=reserve, results=report['results'],
               amp_dtype=amp_dtype)
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for name in order:
            t0 = time.perf_counter()
            print(f'gpu_check: {name} ...', flush=True)
            rec = dict(status='running')
            report['sections'][name] = rec
            try:
                result = _FUNCS[name](ctx)
                status = result.pop('status', 'ok') if isinstance(result, dict) else 'ok'
                report['results'][name] = result
                rec.update(status=status)
                if name == 'precision':  # its record is its result
                    rec.update(note=result.get('note'))
            except _Terminated:
                rec.update(status='timeout', error='terminated (global time limit)', seconds=time.perf_counter() - t0)
                report['goals'] = goals(report['results'], plan, device)
                report['total_s'] = budget.elapsed()
                write_report(report, out_dir)
                raise SystemExit(124)
            except Exception as err:  # noqa: BLE001  (a section's failure is recorded; the next one runs)
                rec.update(status='failed', error=_error(err), traceback=traceback.format_exc()[-3000:])
            rec['seconds'] = time.perf_counter() - t0
            print(f"gpu_check: {name}: {rec['status']} ({rec['seconds']:.1f} s)"
                  + (f": {rec['error']}" if rec.get('error') else ''), flush=True)
            report['goals'] = goals(report['results'], plan, device)
            report['total_s'] = budget.elapsed()
            write_report(report, out_dir)
    finally:
        signal.signal(signal.SIGTERM, old)
    return report


def write_report(report: dict, out_dir: Path) -> None:
    (out_dir / 'gpu_check.json').write_text(json.dumps(report, indent=1, default=str) + '\n')
    (out_dir / 'gpu_check.md').write_text(to_markdown(report))


# ------------------------------------------------------------------------------------------------------ markdown
def _f(x, fmt='{:,.2f}', none='-'):
    return none if x is None else fmt.format(x)


def to_markdown(report: dict) -> str:
    res, sec = report.get('results', {}), report.get('sections', {})
    dev = res.get('device') or {}
    lines = ['# GPU check', '']
    if not report.get('gpu_found'):
        lines += ['**No GPU found** (`torch.cuda.is_available()` is False): this is the CPU fallback at toy sizes; '
                  'none of its figures is a GPU figure.', '']
    lines += [f"Device: {dev.get('name', report.get('device'))}"
              + (f", capability {dev['capability']}, {dev['memory_gib']} GiB" if dev.get('capability') else '')
              + f"; torch {dev.get('torch')}, CUDA {dev.get('cuda')}, cuDNN {dev.get('cudnn')}, "
              f"Python {dev.get('python')}"
              + (f"; environment: {dev['environment']}" if dev.get('environment') else ''),
              f"Started {report.get('started')}, {_f(report.get('total_s'), '{:.0f}')} s in all "
              f"(limit {report.get('time_limit_s'):.0f} s).", '',
              '| section | status | seconds | note |', '|---|---|---|---|']
    for name in SECTIONS:
        if name in sec:
            s = sec[name]
            lines.append(f"| {name} | {s.get('status')} | {_f(s.get('seconds'), '{:.1f}')} | "
                         f"{(s.get('error') or s.get('note') or '').replace('|', '/')} |")
    g = report.get('goals')
    if g:
        fb = g.get('fwd+bwd') or {}
        head = 'Goals' if g.get('evaluated') else 'Goals (not evaluated: ' + (g.get('note') or 'no figures') + ')'
        lines += ['', f'## {head}', '',
                  f"SNL factorised vs mmcv `NonLocal2d`, autocast {g.get('dtype')}, case {fb.get('case')}, "
                  'forward + backward:', '',
                  '| goal | target | measured | met |', '|---|---|---|---|',
                  f"| speed-up vs mmcv `NonLocal2d` | >= {GOALS['speedup_vs_mmcv']:.0f}x | "
                  f"{_f(fb.get('speedup_vs_mmcv'), '{:.2f}x')} ({_f(fb.get('mmcv_ms'))} / {_f(fb.get('snl_ms'))} ms) "
                  f"| {_yes(fb.get('speedup_met'))} |",
                  f"| share of the {g.get('dtype')} matmul rate | >= {GOALS['share_of_fp16_matmul']:.0%} | "
                  f"{_f(fb.get('share_of_fp16_matmul'), '{:.0%}')} ({_f(fb.get('snl_tflops'), '{:,.1f}')} of "
                  f"{_f(fb.get('matmul_tflops'), '{:,.1f}')} TFLOP/s) | {_yes(fb.get('share_met'))} |"]
        fo = g.get('forward') or {}
        lines += ['', f"Forward only (for reference): {_f(fo.get('speedup_vs_mmcv'), '{:.2f}x')} vs mmcv, "
                  f"{_f(fo.get('share_of_fp16_matmul'), '{:.0%}')} of the matmul rate."]
    mm = res.get('matmul')
    if mm:
        lines += ['', f"## Matrix product ({mm['n']}^3, `torch.mm`)", '', '| dtype | TFLOP/s (median) | best |',
                  '|---|---|---|']
        for k, v in mm['tflops'].items():
            lines.append(f"| {k} | {v:,.2f} | {mm['timing'][k]['best_tflops']:,.2f} |")
    pr = res.get('precision')
    if pr:
        lines += ['', '## Precision matrix', '', f"`{pr.get('command')}`: {sec.get('precision', {}).get('status')}"
                  + (f", exit {pr['returncode']}" if 'returncode' in pr else '')
                  + (f", {pr['seconds']:.0f} s" if pr.get('seconds') is not None else '')
                  + (f"; {pr['note']}" if pr.get('note') else '')
                  + (f"; files: {', '.join(pr['files'])}" if pr.get('files') else '')]
        if isinstance(pr.get('summary'), dict) and pr['summary'].get('checks'):
            lines.append(f"{pr['summary']['passed']} of {pr['summary']['checks']} checks within tolerance.")
    bl = res.get('blocks')
    if bl:
        lines += ['', '## Blocks', '', 'Time: CUDA events (CPU: wall clock), median after warm-up; memory: '
                  '`torch.cuda.max_memory_allocated` over one step (absolute peak, and its rise above the '
                  'allocations before the step). TF32 off. SNL rate: analytic FLOPs / time.', '',
                  '| case | B | C1 / Cs | dtype | mode | block | ms | peak MiB (rise) | vs mmcv | TFLOP/s (share) | '
                  'finite |', '|---|---|---|---|---|---|---|---|---|---|---|']
        for r in bl['rows']:
            if r.get('status') != 'ok':
                lines.append(f"| {r['case']} | {r['batch']} | {r['c']} / {r['cs']} | {r['dtype']} | {r['mode']} | "
                             f"{r['variant']} | {r['status']} | | | | {(r.get('error') or '')[:80]} |")
                continue
            mem = '-' if r.get('peak_mib') is None else f"{r['peak_mib']:,.0f} ({r['rise_mib']:,.0f})"
            rate = (f"{r['tflops']:,.3g}" + (f" ({r['share_of_matmul']:.0%})" if r.get('share_of_matmul') is not None
                                              else '')) if r.get('tflops') is not None else ''
            lines.append(f"| {r['case']} | {r['batch']} | {r['c']} / {r['cs']} | {r['dtype']} | {r['mode']} | "
                         f"{r['variant']} | {r['time_ms']:,.2f} | {mem} | {_f(r.get('speedup_vs_mmcv'), '{:.2f}x')} | "
                         f"{rate} | {'yes' if r['finite'] else '**no**'} |")
    tr = res.get('train')
    if tr:
        lines += ['', '## Training (`tools/train.py`)', '',
                  '| model | batch | amp | wrapper / dtype | iterations | losses | finite | loss scale | skipped steps '
                  '| block dtypes (in, out) | s | status |', '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for r in tr['runs'].values():
            losses = ', '.join(_f(x, '{:.3f}') for x in (r.get('losses') or []))
            scales = r.get('loss_scale')
            scales = '-' if not scales else f"{_f(scales[0], '{:g}')} -> {_f(scales[-1], '{:g}')}"
            bd = '; '.join(f'{v[2]}: {v[0]}, {v[1]}' for v in (r.get('block_dtypes') or {}).values())
            lines.append(f"| {r['model']} | {r['batch']} | {' '.join(r.get('amp_args') or []) or 'off'} | "
                         f"{r.get('wrapper') or '-'} / {(r.get('cast_dtype') or '-').replace('torch.', '')} | "
                         f"{r.get('iterations', 0)}/{r['max_iters']} | {losses} | {_yes(r.get('finite'))} | {scales} | "
                         f"{_f(r.get('skipped_steps'), '{}')} | {bd} | {_f(r.get('seconds'), '{:.0f}')} | "
                         f"{r.get('status')}{': ' + r['error'] if r.get('error') else ''} |")
            if r.get('amp_note'):
                lines.append(f"|  | | {r['amp_note']} | | | | | | | | | |")
    return '\n'.join(lines) + '\n'


def _yes(v) -> str:
    return '-' if v is None else ('**yes**' if v else '**no**')


# ------------------------------------------------------------------------------------------------------ CLI
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description='The GPU check (see tools/analysis/gpu_check.sh): device, matmul rate, '
                                'precision matrix, block benchmark against mmcv and timm, a few --amp training '
                                'iterations; JSON and markdown under --out. Without CUDA: a CPU fallback at toy sizes.')
    p.add_argument('--out', default='work_dirs/gpu_check', help='folder for gpu_check.json / .md and what the '
                   'sections write (default: work_dirs/gpu_check)')
    p.add_argument('--device', choices=('cuda', 'cpu'), help='default: cuda when available, else the CPU fallback')
    p.add_argument('--quick', action=argparse.BooleanOptionalAction, default=None,
                   help='toy sizes (default: on for the CPU, off on a GPU)')
    p.add_argument('--sections', nargs='+', choices=SECTIONS, default=list(SECTIONS))
    p.add_argument('--time-limit', type=float, default=460.0, help='seconds for the whole check (sections after it '
                   'are skipped; the subprocesses get what is left); default 460')
    p.add_argument('--precision-timeout', type=float, help='seconds for precision_matrix.py (default 150 on a GPU, '
                   '120 on the CPU)')
    p.add_argument('--amp-dtype', default='float16', choices=('float16', 'bfloat16', 'none'),
                   help="training: tools/train.py --amp-dtype (where that option exists; 'none' leaves it out)")
    a = p.parse_args(argv)
    report = run_check(a.out, a.device, a.quick, a.sections, a.time_limit,
                       None if a.amp_dtype == 'none' else a.amp_dtype, a.precision_timeout)
    out = Path(report['out'])
    print(f"\n{(out / 'gpu_check.md').read_text()}\ngpu_check: wrote {out / 'gpu_check.json'} and "
          f"{out / 'gpu_check.md'}", flush=True)
    bad = [k for k, s in report['sections'].items() if s['status'] in ('failed', 'timeout')]
    if bad:
        print(f'gpu_check: sections not ok: {", ".join(bad)}', flush=True)
    return 1 if bad else 0
