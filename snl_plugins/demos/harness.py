"""The demos' harness: find the project's tools and configs, write a task's data, train and test every model for every
seed through ``tools/train.py`` and ``tools/test.py`` (subprocesses, as a user runs them), and report.

The report, per model and metric: the value per seed, mean and standard deviation over seeds, the per-seed paired
difference to the first (plain) model, and whether that difference exceeds the seed-to-seed spread (see
:func:`verdict`). It is printed as markdown tables and written to ``results.md`` / ``results.json`` beside
``learning_curves.png`` and the task's own pictures. Nothing is selected on the held-out set: every number is the
final checkpoint's, evaluated once by ``tools/test.py``; the curves' held-out points are for display only.

A task is a :class:`Task` (``scenes.py``, ``digits.py``, ``video.py``); :func:`main` is ``tools/demo.py``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import site
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ['ROOT_ENV', 'Model', 'Metric', 'Task', 'Top1Task', 'find_project_root', 'tool_env', 'run_tool',
           'scalars', 'epoch_curves', 'train_and_test', 'count_params', 'verdict', 'summarize', 'format_tables',
           'save_small_png', 'plot_curves', 'run', 'report', 'report_only', 'parse_args', 'main']

ROOT_ENV = 'SNL_PLUGINS_ROOT'
# what the demos need from a clone of the repository: the tools they run and the configs they train (tools/demo.py
# and the demo configs tell this project from another OpenMMLab-style one with tools/train.py and configs/)
PROJECT_FILES = ('tools/train.py', 'tools/test.py', 'tools/demo.py', 'configs/segmentation/demo')


# ------------------------------------------------------------------------------------------------ the project
def _is_project(path: Path) -> bool:
    return all((path / f).exists() for f in PROJECT_FILES)


def find_project_root(root: Optional[os.PathLike] = None, cwd: Optional[os.PathLike] = None,
                      package_dir: Optional[os.PathLike] = None) -> Path:
    """The clone of the repository whose ``tools/`` and ``configs/`` the demos use.

    An installed package (a wheel in site-packages) has neither, so they are looked for, in this order: ``root``
    (``tools/demo.py --root``), the ``SNL_PLUGINS_ROOT`` environment variable, the current directory and its parents,
    and the source tree around the imported package (an editable install or a run from the clone).

    Args:
        root: an explicit project directory; used alone when given.
        cwd: the directory to start the upward search from (default: the current directory).
        package_dir: the imported ``snl_plugins`` package's directory (default: this module's package's).

    Returns:
        The resolved project directory.

    Raises:
        FileNotFoundError: if an explicit directory lacks the project's files, or no candidate has them.
    """
    wanted = ', '.join(PROJECT_FILES)
    explicit = root if root is not None else os.environ.get(ROOT_ENV) or None
    if explicit is not None:
        path = Path(explicit).expanduser().resolve()
        if not _is_project(path):
            source = '--root' if root is not None else ROOT_ENV
            raise FileNotFoundError(f'{source}={explicit}: not a clone of the snl_plugins repository (it needs '
                                    f'{wanted})')
        return path
    start = Path(cwd if cwd is not None else os.getcwd()).resolve()
    package = Path(package_dir if package_dir is not None else Path(__file__).resolve().parents[1]).resolve()
    candidates = [start, *start.parents, package.parent]
    for path in candidates:
        if _is_project(path):
            return path
    raise FileNotFoundError(f'the demos run the project\'s tools and configs ({wanted}), found neither in {start} '
                            f'and its parents nor beside the installed package ({package}); run from a clone of the '
                            f'repository, or pass --root / set {ROOT_ENV} to it')


# ---------------------------------------------------------------------------------------------------- running
def tool_env(threads: Optional[int] = None) -> dict:
    """The tools' environment: this process's, the tools importing the same ``snl_plugins`` as this process, and
    ``threads`` OpenMP threads each where given (tools run side by side)."""
    env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHONUNBUFFERED='1')  # progress lines as they come
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    package_parent = str(Path(__file__).resolve().parents[2])
    site_dirs = {str(Path(p).resolve()) for p in site.getsitepackages() + [site.getusersitepackages()]}
    # a source tree goes first on the path; an installed package is found by the interpreter anyway (putting
    # site-packages on PYTHONPATH would move it before the standard library)
    if package_parent not in site_dirs:
        env['PYTHONPATH'] = os.pathsep.join(p for p in (package_parent, env.get('PYTHONPATH', '')) if p)
    return env


def run_tool(root: Path, args: Sequence, log_path: Path, echo: Optional[Callable[[str], Optional[str]]] = None,
             threads: Optional[int] = None) -> Tuple[str, float]:
    """``python <args>`` in ``root`` (e.g. ``tools/train.py CONFIG ...``), everything it prints going to ``log_path``;
    lines that ``echo`` maps to a string are printed; ``threads``: see :func:`tool_env`.

    Returns:
        The tool's output (stdout and stderr together) and its CPU seconds (user + system, its own: what a run costs
        whatever else loads the machine, also with tools running side by side).

    Raises:
        RuntimeError: naming the command, its exit status and the log, with the output's end, if the tool fails.
    """
    cmd = [sys.executable] + [str(a) for a in args]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    with open(log_path, 'w', buffering=1) as log:  # line-buffered: the log can be followed while the tool runs
        log.write(' '.join(cmd) + '\n')
        proc = subprocess.Popen(cmd, cwd=root, env=tool_env(threads), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            msg = echo(line) if echo else None
            if msg:
                print(msg, flush=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource use
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
    out = ''.join(lines)
    if rc != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {rc}); log: {log_path}\n{out[-4000:]}')
    return out, usage.ru_utime + usage.ru_stime


def scalars(work_dir: Path) -> List[dict]:
    """The records of a training run's ``vis_data/scalars.json`` (mmengine's local visualizer backend)."""
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: did tools/train.py log anything?')
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def epoch_curves(work_dir: Path, val_key: str, val_label: str, scale: float = 1.0) -> dict:
    """:meth:`Task.curves` of an epoch-based run: per epoch the mean training loss and the held-out ``val_key``
    (times ``scale``); ``step_time`` is the training seconds of an epoch (its iterations' logged times summed)."""
    loss: Dict[int, List[float]] = {}
    secs: Dict[int, List[float]] = {}
    val = {}
    for r in scalars(work_dir):
        if val_key in r:
            val[int(r['step'])] = scale * float(r[val_key])
        elif 'loss' in r and 'epoch' in r:
            loss.setdefault(int(r['epoch']), []).append(float(r['loss']))
            secs.setdefault(int(r['epoch']), []).append(float(r.get('time', 0.0)))
    epochs = sorted(loss)
    return dict(train_step=epochs, train_loss=[statistics.fmean(loss[e]) for e in epochs], val_step=sorted(val),
                val=[val[e] for e in sorted(val)], val_label=val_label,
                step_time=statistics.fmean(sum(secs[e]) for e in epochs) if epochs else float('nan'))


def count_params(config: Path) -> int:
    """Trainable parameters of the config's model, built as the tools build it."""
    from ..analysis.common import load_model
    model, _ = load_model(str(config))
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


# ----------------------------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Model:
    """One model of a comparison.

    Args:
        key: short name, used in work-dir names and ``--models`` (e.g. ``'snl'``).
        label: the name in tables and plots.
        config: its config, relative to the project root.
    """
    key: str
    label: str
    config: str


@dataclass(frozen=True)
class Metric:
    """A number the task reports per run.

    Args:
        key: the key in a run's ``metrics``.
        label: the name in tables.
        what: one line on what it measures (printed under its table).
    """
    key: str
    label: str
    what: str


class Task:
    """What a demo task supplies to the harness; the harness does everything else.

    Subclasses set the class attributes and implement the methods that raise ``NotImplementedError``.

    Attributes:
        name: ``--task`` value.
        title: one line for the report.
        models: the compared models, the plain one first (the paired differences are to it).
        metrics: reported metrics, the headline first.
        options: the task's ``tools/demo.py`` options and their defaults (``None``: the config's own).
        default_seeds: seeds of a plain ``tools/demo.py --task <name>``.
        step: what the curves' x axis counts (``'epoch'`` or ``'iteration'``).
    """
    name = ''
    title = ''
    models: Sequence[Model] = ()
    metrics: Sequence[Metric] = ()
    options: Dict[str, object] = {}
    default_seeds: Sequence[int] = (0,)
    step = 'epoch'

    def write_data(self, data_dir: Path, options: dict) -> dict:
        """Write the data set under ``data_dir``; returns its summary (``n_train``, ``n_test`` and what the other
        methods need), saved in ``results.json``."""
        raise NotImplementedError

    def config(self, model: Model, root: Path, out: Path, info: dict, options: dict) -> Path:
        """The config ``tools/train.py`` trains for ``model`` (by default the project's file)."""
        return root / model.config

    def cfg_options(self, info: dict, seed: int, options: dict) -> List[str]:
        """``--cfg-options`` of both tools: the data's place, the schedule, the seed."""
        raise NotImplementedError

    def test_args(self, work_dir: Path) -> List[str]:
        """Extra arguments of ``tools/test.py`` (e.g. ``--out`` for the predictions)."""
        return []

    def test_metrics(self, output: str, work_dir: Path, info: dict) -> Dict[str, float]:
        """The metrics of :attr:`metrics` (and any others worth keeping) from ``tools/test.py``'s output."""
        raise NotImplementedError

    def curves(self, work_dir: Path) -> dict:
        """``train_step``, ``train_loss``, ``val_step``, ``val`` (held-out, the config's metric), ``val_label``, and
        ``step_time`` (mean training seconds per step) from the training run's logged scalars."""
        raise NotImplementedError

    def progress(self, line: str) -> Optional[str]:
        """A short progress message for a line of ``tools/train.py``'s output, or None."""
        return None

    def pictures(self, out: Path, runs: List[dict], info: dict, root: Path) -> Tuple[Dict[str, str], str]:
        """Task-specific pictures from the finished runs; returns ``({name: path}, markdown notes on them)``."""
        return {}, ''


class Top1Task(Task):
    """An epoch-based classification task whose metric is held-out top-1: ``top1_key`` in the tools' logs, times
    ``top1_scale`` to percent."""
    step = 'epoch'
    top1_key = ''
    top1_scale = 1.0

    def test_metrics(self, output: str, work_dir: Path, info: dict) -> Dict[str, float]:
        m = re.search(rf'Epoch\(test\).*?{re.escape(self.top1_key)}: ([\d.]+)', output)
        if not m:
            raise RuntimeError(f'no "Epoch(test) ... {self.top1_key}" in the output of tools/test.py: '
                               f'{work_dir}/test_stdout.log')
        return dict(top1=self.top1_scale * float(m.group(1)))

    def curves(self, work_dir: Path) -> dict:
        return epoch_curves(work_dir, self.top1_key, 'top-1 (%)', self.top1_scale)

    def progress(self, line: str) -> Optional[str]:
        m = re.search(rf'Epoch\(val\)\s*\[\s*(\d+)\].*?{re.escape(self.top1_key)}: ([\d.]+)', line)
        if not m:
            return None
        return f'epoch {m.group(1)}: held-out top-1 {self.top1_scale * float(m.group(2)):.2f} (display only)'


def _checkpoint(work_dir: Path) -> Path:
    last = work_dir / 'last_checkpoint'
    if not last.is_file():
        raise FileNotFoundError(f'{last} missing: tools/train.py saved no checkpoint in {work_dir}')
    ckpt = Path(last.read_text().strip())
    return ckpt if ckpt.is_absolute() else work_dir / ckpt


def train_and_test(task: Task, model: Model, config: Path, work_dir: Path, info: dict, seed: int, options: dict,
                   root: Path, quiet: bool = False, cfg_options: Sequence[str] = (),
                   threads: Optional[int] = None) -> dict:
    """``tools/train.py`` then ``tools/test.py`` on the final checkpoint; returns the run's numbers and curves.
    ``cfg_options`` (``key=value``) go to both tools after the task's own; ``threads``: see :func:`tool_env`."""
    opts = task.cfg_options(info, seed, options) + list(cfg_options)

    def echo(line):
        msg = None if quiet else task.progress(line)
        return f'  [{model.label}, seed {seed}] {msg}' if msg else None

    t0 = time.perf_counter()
    _, train_cpu = run_tool(root, ['tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *opts],
                            work_dir / 'train_stdout.log', echo, threads)
    train_wall = time.perf_counter() - t0
    ckpt = _checkpoint(work_dir)
    t0 = time.perf_counter()
    out, _ = run_tool(root, ['tools/test.py', config, ckpt, '--work-dir', work_dir / 'test', *task.test_args(work_dir),
                             '--cfg-options', *opts], work_dir / 'test_stdout.log', threads=threads)
    return dict(model=model.label, key=model.key, config=str(config), seed=seed, work_dir=str(work_dir),
                checkpoint=str(ckpt), metrics=task.test_metrics(out, work_dir, info), curves=task.curves(work_dir),
                train_wall_s=train_wall, train_cpu_s=train_cpu, test_wall_s=time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------------- reporting
def _std(xs: Sequence[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def verdict(delta: Sequence[float], spread: float) -> str:
    """Whether paired differences exceed the seed-to-seed spread.

    They do when every seed's difference has the same sign and their mean is more than twice ``spread`` (the larger
    of the two models' standard deviations over seeds) in magnitude; one seed measures no spread.

    Args:
        delta: per-seed differences, model minus plain.
        spread: the larger seed-to-seed standard deviation of the two models.

    Returns:
        A plain sentence fragment for the table.
    """
    if len(delta) < 2:
        return 'one seed: no spread measured'
    mean = statistics.fmean(delta)
    same_sign = all(d > 0 for d in delta) or all(d < 0 for d in delta)
    # no '|' in the text: it goes into markdown tables
    if same_sign and abs(mean) > 2 * spread:
        return f'yes: {mean:+.2f} is beyond 2 x {spread:.2f}, same sign in every seed'
    why = 'signs differ across seeds' if not same_sign else f'{mean:+.2f} is within 2 x {spread:.2f}'
    return f'no: {why}'


def summarize(runs: List[dict], metrics: Sequence[Metric], params: Dict[str, int]) -> List[dict]:
    """One row per model (in the order of ``runs``): per metric the values per seed, mean, std, paired differences
    to the first model and :func:`verdict`; the training time and parameters."""
    labels = list(dict.fromkeys(r['model'] for r in runs))
    by_model = {label: sorted((r for r in runs if r['model'] == label), key=lambda r: r['seed']) for label in labels}
    base = by_model[labels[0]]
    rows = []
    for label in labels:
        rs = by_model[label]
        row = dict(model=label, key=rs[0]['key'], seeds=[r['seed'] for r in rs], params=params.get(label),
                   train_wall_s=[r['train_wall_s'] for r in rs], train_cpu_s=[r['train_cpu_s'] for r in rs],
                   step_time=[r['curves']['step_time'] for r in rs], metrics={})
        for m in metrics:
            values = [r['metrics'][m.key] for r in rs]
            base_values = {r['seed']: r['metrics'][m.key] for r in base}
            delta = [r['metrics'][m.key] - base_values[r['seed']] for r in rs if r['seed'] in base_values]
            spread = max(_std(values), _std(list(base_values.values())))
            row['metrics'][m.key] = dict(values=values, mean=statistics.fmean(values), std=_std(values),
                                         delta=delta, delta_mean=statistics.fmean(delta) if delta else None,
                                         delta_std=_std(delta),
                                         verdict=verdict(delta, spread) if label != labels[0] else None)
        rows.append(row)
    return rows


def _mean_std(mean: float, std: float, n: int, digits: int = 2) -> str:
    return f'{mean:.{digits}f}' if n == 1 else f'{mean:.{digits}f} ± {std:.{digits}f}'


def format_tables(rows: List[dict], metrics: Sequence[Metric], step: str) -> str:
    """A markdown table per metric (mean ± std, per seed, paired differences, verdict) and one of the costs."""
    out = []
    for m in metrics:
        out += [textwrap.fill(f'**{m.label}** ({m.what})', 120), '',
                '| model | mean ± std | per seed | Δ vs plain, per seed | Δ mean ± std | Δ exceeds the seed spread? |',
                '|---|---:|---:|---:|---:|---|']
        for i, r in enumerate(rows):
            s = r['metrics'][m.key]
            n = len(s['values'])
            per_seed = ', '.join(f'{v:.2f}' for v in s['values'])
            if i == 0:
                delta = delta_mean = verdict_text = '—'
            else:
                delta = ', '.join(f'{d:+.2f}' for d in s['delta']) or 'n/a'
                delta_mean = _mean_std(s['delta_mean'], s['delta_std'], len(s['delta']), 2) if s['delta'] else 'n/a'
                delta_mean = delta_mean if delta_mean.startswith('-') else '+' + delta_mean
                verdict_text = s['verdict']
            out.append(f'| {r["model"]} | {_mean_std(s["mean"], s["std"], n)} | {per_seed} | {delta} | {delta_mean} | '
                       f'{verdict_text} |')
        out.append('')
    out += [f'| model | params | s / {step} (train) | tools/train.py run: wall s (CPU s), mean over seeds |',
            '|---|---:|---:|---:|']
    for r in rows:
        params = f'{r["params"]:,}' if r['params'] is not None else '?'
        out.append(f'| {r["model"]} | {params} | {statistics.fmean(r["step_time"]):.3f} | '
                   f'{statistics.fmean(r["train_wall_s"]):.0f} ({statistics.fmean(r["train_cpu_s"]):.0f}) |')
    return '\n'.join(out)


def save_small_png(fig, path: Path, dpi: int = 80) -> Path:
    """Write a matplotlib figure as a small PNG (``dpi``, 256 adaptive colours: the pictures go into docs/) and close
    it; returns ``path``."""
    import io

    from PIL import Image

    from ..analysis.common import matplotlib_pyplot
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format='png')
    matplotlib_pyplot().close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(buf).convert('RGB').quantize(256).save(path, optimize=True)
    return path


def plot_curves(runs: List[dict], path: Path, step: str, title: str = '') -> Path:
    """Held-out metric and training loss per step, every model and seed (colour: model, line style: seed)."""
    from ..analysis.common import matplotlib_pyplot
    plt = matplotlib_pyplot()
    from matplotlib.ticker import MaxNLocator
    labels = list(dict.fromkeys(r['model'] for r in runs))
    styles = ['-', '--', ':', '-.']
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in runs:
        c = r['curves']
        color = f'C{labels.index(r["model"])}'
        ls = styles[r['seed'] % len(styles)]
        name = f'{r["model"]}, seed {r["seed"]}'
        ax1.plot(c['val_step'], c['val'], ls, color=color, marker='o', ms=3, label=name)
        ax2.plot(c['train_step'], c['train_loss'], ls, color=color, lw=1, label=name)
    val_label = runs[0]['curves']['val_label']
    ax1.set(xlabel=step, ylabel=val_label, title=f'held-out {val_label} (display only: nothing is selected on it)')
    ax2.set(xlabel=step, ylabel='training loss', title='training loss', yscale='log')
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.title.set_fontsize(9)
    ax2.legend(fontsize=7, loc='upper right')
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_small_png(fig, path)


# ----------------------------------------------------------------------------------------------------------- run
def _select_models(task: Task, keys: Optional[Sequence[str]]) -> List[Model]:
    if not keys:
        return list(task.models)
    known = {m.key: m for m in task.models}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f'--models {" ".join(unknown)}: task {task.name} has {", ".join(known)}')
    if keys[0] != task.models[0].key:
        raise ValueError(f'--models must start with {task.models[0].key!r}: the differences are to the plain model')
    return [known[k] for k in keys]


def _title(task: Task, info: dict, options: dict, seeds: Sequence[int]) -> str:
    sched = ', '.join(f'{k} {v}' for k, v in options.items() if v is not None and k in ('epochs', 'iters'))
    return (f'{task.title}: {info["n_train"]} train / {info["n_test"]} held-out{", " + sched if sched else ""}, '
            f'seed{"s" if len(seeds) > 1 else ""} {", ".join(map(str, seeds))}')


def run(task: Task, out: os.PathLike, seeds: Sequence[int], options: dict, models: Optional[Sequence[str]] = None,
        root: Optional[os.PathLike] = None, quiet: bool = False, cfg_options: Sequence[str] = (),
        jobs: Optional[int] = None) -> dict:
    """Write the data, train and test every model (``models``: keys, default all) for every seed, report.

    Args:
        task: what to run.
        out: output folder (data, work dirs ``<model>_seed<k>``, tables, pictures).
        seeds: training seeds.
        options: the task's options (:attr:`Task.options` updated by the user's).
        models: keys of a subset of the task's models, the plain one first.
        root: the project clone (see :func:`find_project_root`).
        quiet: print only the report.
        cfg_options: ``key=value`` overrides for every model's config, after the task's own.
        jobs: runs (model x seed) trained side by side, each tool with ``cpus // jobs`` threads (default: as many as
            there are CPUs and runs; small networks use CPUs better side by side than with more threads each).

    Returns:
        ``results.json``'s content.
    """
    t_start, load0 = time.perf_counter(), list(os.getloadavg())
    root = find_project_root(root)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    chosen = _select_models(task, models)
    info = task.write_data(out / 'data', options)
    (out / 'data' / 'info.json').write_text(json.dumps(info))
    print(f'{task.title}: {info["n_train"]} training / {info["n_test"]} held-out samples in {out / "data"}; '
          f'{len(chosen)} models x {len(seeds)} seed(s) through tools/train.py and tools/test.py', flush=True)
    todo = [(seed, model) for seed in seeds for model in chosen]
    cpus = os.cpu_count() or 1
    jobs = max(1, min(jobs or cpus, len(todo)))
    threads = max(1, cpus // jobs) if jobs > 1 else None  # one job: the tools' own default

    def one(seed: int, model: Model) -> dict:
        work_dir = out / f'{model.key}_seed{seed}'
        config = task.config(model, root, out, info, options)
        if not quiet:
            print(f'[{model.label}, seed {seed}] tools/train.py {config} --work-dir {work_dir}', flush=True)
        r = train_and_test(task, model, config, work_dir, info, seed, options, root, quiet, cfg_options, threads)
        r.update(options=options, cfg_options=list(cfg_options), jobs=jobs)
        if not quiet:
            shown = ', '.join(f'{m.label} {r["metrics"][m.key]:.2f}' for m in task.metrics)
            print(f'[{model.label}, seed {seed}] tools/test.py: {shown}; train {r["train_wall_s"]:.0f} s wall '
                  f'({r["train_cpu_s"]:.0f} CPU s)', flush=True)
        (work_dir / 'run.json').write_text(json.dumps(r, indent=1))
        return r

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:  # the work is in the tools' processes
        runs = list(pool.map(lambda job: one(*job), todo))
    return report(task, out, runs, info, options, root, t_start, load0)


def report(task: Task, out: Path, runs: List[dict], info: dict, options: dict, root: Path,
           t_start: Optional[float] = None, load0: Optional[List[float]] = None) -> dict:
    """Tables, ``learning_curves.png``, the task's pictures and ``results.{md,json}`` from finished runs."""
    load0 = load0 or list(os.getloadavg())
    labels = list(dict.fromkeys(r['model'] for r in runs))
    configs = {r['model']: r['config'] for r in runs}
    params = {label: count_params(Path(configs[label])) for label in labels}
    rows = summarize(runs, task.metrics, params)
    tables = format_tables(rows, task.metrics, task.step)
    seeds = sorted({r['seed'] for r in runs})
    title = _title(task, info, options, seeds)
    pictures = {'learning_curves': str(plot_curves(runs, out / 'learning_curves.png', task.step, title))}
    task_pictures, notes = task.pictures(out, runs, info, root)
    pictures.update(task_pictures)
    total = time.perf_counter() - t_start if t_start is not None else None
    threads = _torch_threads()
    load1 = list(os.getloadavg())
    results = dict(task=task.name, title=title, options=options, seeds=seeds, models=labels, data=info,
                   total_wall_s=total, torch_threads=threads, cpu_count=os.cpu_count(), loadavg_start=load0,
                   loadavg_end=load1, rows=rows, runs=runs, tables=tables, notes=notes, pictures=pictures)
    (out / 'results.json').write_text(json.dumps(results, indent=1))
    seed_note = f'{len(seeds)} seed{"s" if len(seeds) > 1 else ""} ({", ".join(map(str, seeds))})'
    total_s = f'{total:.0f} s' if total is not None else 'n/a (--report-only)'
    machine = (f'{os.cpu_count()} CPUs, {threads} torch thread(s) in this process, load average {load0[0]:.1f} at '
               f'the start, {load1[0]:.1f} at the end')
    notes = f'{notes}\n\n' if notes else ''
    text = (f'# {title}\n\n{seed_note}; every number is the final checkpoint\'s, from tools/test.py.\n\n{tables}\n\n'
            f'{notes}Total wall time: {total_s} ({machine}).\n')
    (out / 'results.md').write_text(text)
    print(f'\n{seed_note}\n\n{tables}\n\n{notes}', end='')
    for name, path in pictures.items():
        print(f'{name}: {path}')
    print(f'results: {out / "results.md"}, {out / "results.json"}\ntotal wall time: {total_s}', flush=True)
    return results


def report_only(task: Task, out: os.PathLike, root: Optional[os.PathLike] = None) -> dict:
    """:func:`report` from the ``run.json`` of every finished work dir under ``out`` (e.g. seeds run separately)."""
    out = Path(out).resolve()
    info_path = out / 'data' / 'info.json'
    if not info_path.is_file():
        raise FileNotFoundError(f'{info_path} missing: no demo of this task ran under {out}')
    order = [m.key for m in task.models]
    runs = [json.loads(f.read_text()) for f in out.glob('*_seed*/run.json')]
    runs = [r for r in runs if r.get('key') in order]
    if not runs:
        raise FileNotFoundError(f'no <model>_seed<k>/run.json of task {task.name} under {out}')
    runs.sort(key=lambda r: (r['seed'], order.index(r['key'])))
    return report(task, out, runs, json.loads(info_path.read_text()), runs[0].get('options', {}),
                  find_project_root(root))


def _torch_threads() -> int:
    import torch
    return int(torch.get_num_threads())


# ------------------------------------------------------------------------------------------------------- command
def _tasks() -> Dict[str, Task]:
    from .digits import DigitsTask
    from .scenes import ScenesTask
    from .video import VideoTask
    return {t.name: t for t in (ScenesTask(), DigitsTask(), VideoTask())}


TASK_OPTIONS = {
    'epochs': dict(type=int, help='digits, video: training epochs (default 6)'),
    'iters': dict(type=int, help='scenes: training iterations (default: the configs\')'),
    'train_size': dict(type=int, help='scenes: training scenes (default 400); digits: a stratified subset of the '
                       '1,297 training images'),
    'test_size': dict(type=int, help='scenes: held-out scenes (default 100); digits: a stratified subset of the 500 '
                      'held-out images'),
    'batch_size': dict(type=int, help='digits, video: training batch (default: the config\'s)'),
    'groups': dict(type=int, nargs=3, metavar=('TRAIN', 'TEST', 'PER_GROUP'),
                   help='video: train groups, test groups and clips per group and class (default 12 5 6)'),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """``tools/demo.py``'s arguments (the task options of every task; :func:`main` refuses those of another)."""
    p = argparse.ArgumentParser(
        description='The demos: a plain network and the same network with non-local blocks, trained and tested '
        'through tools/train.py and tools/test.py for every seed; prints per model the mean and std over seeds, the '
        'paired differences to the plain model and whether they exceed the seed spread; writes the tables, learning '
        'curves and the task\'s pictures (docs/demo.md).')
    p.add_argument('--task', choices=('scenes', 'digits', 'video'), default='scenes',
                   help='scenes (default): segmentation of digit scenes, where a blank box takes the class of the '
                   'digit that appears twice (plain, NL, SNL, gSNL); digits: classification of the digits '
                   '(plain, SNL); video: moving digits (I3D plain, SNL)')
    p.add_argument('--seeds', type=int, nargs='+', help='training seeds (default: 0)')
    p.add_argument('--models', nargs='+', help='a subset of the task\'s models, by key, the plain one first '
                   '(scenes: plain nl snl gsnl; digits, video: plain snl)')
    p.add_argument('--out', help='output folder: data, work dirs, tables, pictures (default: work_dirs/demo_<task>)')
    p.add_argument('--root', help=f'the clone whose tools/ and configs/ are used (default: ${ROOT_ENV}, else the '
                   'current directory or a parent, else the source tree of the imported package)')
    for name, kw in TASK_OPTIONS.items():
        p.add_argument('--' + name.replace('_', '-'), default=None, **kw)
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='overrides for every model\'s config, passed to both tools after the demo\'s own')
    p.add_argument('--jobs', type=int, default=None, help='runs trained side by side, each tool with CPUs / jobs '
                   'threads (default: as many as there are CPUs and runs)')
    p.add_argument('--quiet', action='store_true', help='print only the final tables')
    p.add_argument('--report-only', action='store_true', help='train nothing: the report again from the run.json of '
                   'every finished work dir under --out (e.g. after seeds run separately)')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """``tools/demo.py``: parse the arguments, run (or re-report) the task."""
    args = parse_args(argv)
    task = _tasks()[args.task]
    given = {k: getattr(args, k) for k in TASK_OPTIONS if getattr(args, k) is not None}
    foreign = [k for k in given if k not in task.options]
    if foreign:
        flags = ', '.join('--' + k.replace('_', '-') for k in foreign)
        raise SystemExit(f'{flags}: not an option of --task {task.name} (its options: '
                         f'{", ".join("--" + k.replace("_", "-") for k in task.options)})')
    for k, v in given.items():
        if k != 'groups' and v < 1:
            raise SystemExit(f'--{k.replace("_", "-")} must be >= 1, got {v}')
    try:  # the user's choices, checked before anything runs: a message, not a traceback
        root = find_project_root(args.root)
        _select_models(task, args.models)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'tools/demo.py: {err}') from err
    out = args.out or f'work_dirs/demo_{task.name}'
    if args.report_only:
        return report_only(task, out, root)
    options = dict(task.options, **given)
    seeds = args.seeds if args.seeds is not None else list(task.default_seeds)
    if args.jobs is not None and args.jobs < 1:
        raise SystemExit(f'--jobs must be >= 1, got {args.jobs}')
    return run(task, out, seeds, options, args.models, root, args.quiet, args.cfg_options, args.jobs)

