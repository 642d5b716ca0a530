"""How the benchmark scripts (``tools/analysis/benchmark_{blocks,video,seg}.py``) measure, in one place.

- Time: the variants being compared are built in one process and step round-robin (:func:`interleaved_times`: a
  warm-up round, then ``repeats`` rounds, medians), so the load of a shared machine falls on all of them alike.
- Memory: one variant per fresh process, the rise of the peak over its first step (:func:`peak_memory_rise`):
  ``torch.cuda.max_memory_allocated`` on a GPU, the peak resident set ``ru_maxrss`` on a CPU (it never falls, so
  only a first step can be measured).
- :func:`run_child`: a fresh Python process whose last stdout line is the JSON result.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Optional, Sequence, Tuple

import torch

__all__ = ['synchronize', 'interleaved_times', 'peak_memory_rise', 'run_child']


def synchronize(device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), so that a timer around a step sees all of it."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved_times(steps: Sequence[Callable[[], object]], repeats: int,
                      device) -> Tuple[List[float], List[List[float]]]:
    """``(medians, all times)`` in seconds of each step, run round-robin: one warm-up round, then ``repeats``."""
    times = [[] for _ in steps]
    for r in range(repeats + 1):
        for i, step in enumerate(steps):
            synchronize(device)
            t0 = time.perf_counter()
            step()
            synchronize(device)
            if r:
                times[i].append(time.perf_counter() - t0)
    return [statistics.median(v) for v in times], times


def peak_memory_rise(step: Callable[[], object], device) -> int:
    """Bytes by which one call of ``step`` raises the peak memory (see the module docstring)."""
    if torch.device(device).type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step()
    synchronize(device)
    peak = (torch.cuda.max_memory_allocated(device) if torch.device(device).type == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return max(0, peak - base)


def run_child(args: Sequence[str], env: Optional[dict] = None, cwd: Optional[str] = None) -> dict:
    """``python args...`` in a fresh process; its last stdout line parsed as JSON. A failure raises
    ``RuntimeError`` with the last line of its stderr."""
    proc = subprocess.run([sys.executable, *args], env=dict(os.environ, PYTHONWARNINGS='ignore', **(env or {})),
                          cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1][:200] if lines else f'exit {proc.returncode}')
    return json.loads(proc.stdout.strip().splitlines()[-1])
