"""``make demo``: a baseline and an SNL network trained and evaluated on real data that ships offline.

The data are scikit-learn's handwritten digits (1,797 8x8 grey images, 10 classes), bilinearly upsampled to 16x16 and
written as ImageFolder class folders of PNGs (``data/digits16/{train,test}/<digit>/<index>.png``) with a fixed, seeded,
stratified held-out split (1,297 / 500). For every seed, ``tools/train.py`` trains PreResNet-20 and PreResNet-20 + SNL
(the paper's position, ``configs/demo/``) with the same schedule, and ``tools/test.py`` evaluates the final checkpoint
on the held-out set. The demo then prints a markdown table (top-1, time per training epoch, parameters), and writes
``results.md``, ``results.json`` and ``learning_curves.png`` next to the work dirs (which keep the checkpoints and logs).

The optional ``--task pairs`` is a "context" variant: two digits pasted at far-apart random places of a 32x32 canvas,
label 1 when they are the same digit, else 0 (balanced); no single place of the image decides the label.

Everything runs through the real tools in subprocesses, as a user would run them; :func:`main` is ``tools/demo.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ['ROOT', 'MODELS', 'write_digits', 'write_digit_pairs', 'run_demo', 'format_table', 'plot_curves',
           'parse_args', 'main']

ROOT = Path(__file__).resolve().parents[1]
CFG_DIR = ROOT / 'configs' / 'demo'
# (label, config file) of the models compared, baseline first
MODELS = (('PreResNet-20', 'preresnet20_digits.py'), ('PreResNet-20 + SNL', 'preresnet20-snl_digits.py'))
PAIR_MODELS = (('PreResNet-20', 'preresnet20_pairs.py'), ('PreResNet-20 + SNL', 'preresnet20-snl_pairs.py'))
SPLIT_SEED = 0
TEST_SIZE = 500


# ---------------------------------------------------------------------------------------------------------- data
def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    # 0..16 -> 0..255
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images, d.target.astype(np.int64)


def _split(labels: np.ndarray, train_size: Optional[int] = None, test_size: Optional[int] = None):
    """The fixed stratified split (sklearn ``train_test_split``, ``random_state=SPLIT_SEED``): 1,297 / 500 indices into
    ``load_digits()``; ``train_size`` / ``test_size`` keep a stratified subset of each part (for quick tests)."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=TEST_SIZE, stratify=labels, random_state=SPLIT_SEED)

    def shrink(part, n):
        if n is None or n >= len(part):
            return np.sort(part)
        keep, _ = train_test_split(part, train_size=n, stratify=labels[part], random_state=SPLIT_SEED)
        return np.sort(keep)
    return shrink(train, train_size), shrink(test, test_size)


def _upsample(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def _save_png(img: np.ndarray, path: Path) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def write_digits(root, size: int = 16, train_size: Optional[int] = None, test_size: Optional[int] = None) -> dict:
    """Write the digits as ``root/{train,test}/<digit>/<index>.png`` (``size`` x ``size`` grey PNGs, ``<index>`` the
    row in ``load_digits()``) and ``root/split.json``. Returns the split's summary (sizes, indices, pixel mean/std)."""
    root = Path(root)
    images, labels = _digits()
    train, test = _split(labels, train_size, test_size)
    stats = []
    for split, part in (('train', train), ('test', test)):
        for i in part:
            img = _upsample(images[i], size)
            if split == 'train':
                stats.append(img)
            _save_png(img, root / split / str(labels[i]) / f'{i:04d}.png')
    stats = np.stack(stats).astype(np.float64)
    info = dict(task='digits', size=size, split_seed=SPLIT_SEED, n_train=int(len(train)), n_test=int(len(test)),
                train_mean=round(float(stats.mean()), 2), train_std=round(float(stats.std()), 2),
                train_per_class=np.bincount(labels[train], minlength=10).tolist(),
                test_per_class=np.bincount(labels[test], minlength=10).tolist(),
                train_index=train.tolist(), test_index=test.tolist())
    (root / 'split.json').write_text(json.dumps(info))
    return info


def _paste_pair(rng, a: np.ndarray, b: np.ndarray, canvas: int = 32) -> np.ndarray:
    """Two digits (h x h) at random places of a ``canvas`` x ``canvas`` black image, in opposite halves (left/right or
    top/bottom), so that their centres are at least half the canvas apart along that axis."""
    h = a.shape[0]
    out = np.zeros((canvas, canvas), np.uint8)
    half = canvas // 2
    lo = rng.integers(0, half - h + 1, 2)  # corner in the first half
    hi = rng.integers(half, canvas - h + 1, 2)  # corner in the second half
    if rng.random() < 0.5:  # left / right
        (ya, xa), (yb, xb) = (rng.integers(0, canvas - h + 1), lo[1]), (rng.integers(0, canvas - h + 1), hi[1])
    else:  # top / bottom
        (ya, xa), (yb, xb) = (lo[0], rng.integers(0, canvas - h + 1)), (hi[0], rng.integers(0, canvas - h + 1))
    if rng.random() < 0.5:
        a, b = b, a
    out[ya:ya + h, xa:xa + h] = np.maximum(out[ya:ya + h, xa:xa + h], a)
    out[yb:yb + h, xb:xb + h] = np.maximum(out[yb:yb + h, xb:xb + h], b)
    return out


def write_digit_pairs(root, n_train: int = 2000, n_test: int = 1000, canvas: int = 32, digit_size: int = 10,
                      train_size: Optional[int] = None, test_size: Optional[int] = None, seed: int = 0) -> dict:
    """The context task: ``root/{train,test}/{different,same}/<n>.png``, two digits (upsampled to ``digit_size``) far
    apart on a ``canvas`` x ``canvas`` image, label ``same`` when both are the same digit (half of the images).
    Training pairs come from the digits' training split only, test pairs from its held-out split only."""
    root = Path(root)
    images, labels = _digits()
    train, test = _split(labels, train_size, test_size)
    rng = np.random.default_rng(seed)
    small = {i: _upsample(images[i], digit_size) for i in np.concatenate([train, test])}
    stats, counts = [], {}
    for split, part, n in (('train', train, n_train), ('test', test, n_test)):
        by_class = {c: part[labels[part] == c] for c in range(10)}
        for k in range(n):
            same = k % 2 == 1
            ca = int(rng.integers(10))
            cb = ca if same else int((ca + rng.integers(1, 10)) % 10)
            a, b = rng.choice(by_class[ca]), rng.choice(by_class[cb])
            while same and a == b and len(by_class[ca]) > 1:
                b = rng.choice(by_class[cb])
            img = _paste_pair(rng, small[a], small[b], canvas)
            if split == 'train':
                stats.append(img)
            _save_png(img, root / split / ('same' if same else 'different') / f'{k:05d}.png')
        counts[split] = n
    stats = np.stack(stats).astype(np.float64)
    info = dict(task='pairs', canvas=canvas, digit_size=digit_size, split_seed=SPLIT_SEED, pair_seed=seed,
                n_train=counts['train'], n_test=counts['test'], train_mean=round(float(stats.mean()), 2),
                train_std=round(float(stats.std()), 2))
    (root / 'split.json').write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------------------------------------------- running
def _env() -> dict:
    env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHONUNBUFFERED='1')  # progress lines as they come
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH', '')) if p)
    return env


def _run_tool(args: Sequence, log_path: Path, echo=None) -> str:
    """Run ``python <tool> <args>`` from the repository root; everything it prints goes to ``log_path``; lines that
    ``echo`` maps to a string are shown. Raises ``RuntimeError`` with the end of the output on failure."""
    cmd = [sys.executable] + [str(a) for a in args]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    with open(log_path, 'w') as log:
        log.write(' '.join(cmd) + '\n')
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                bufsize=1)
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            msg = echo(line) if echo else None
            if msg:
                print(msg, flush=True)
        rc = proc.wait()
    out = ''.join(lines)
    if rc != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {rc}); log: {log_path}\n{out[-4000:]}')
    return out


_VAL_RE = re.compile(r'Epoch\(val\)\s*\[\s*(\d+)\].*?accuracy/top1: ([\d.]+)')
_TEST_RE = re.compile(r'Epoch\(test\).*?accuracy/top1: ([\d.]+)')


def _scalars(work_dir: Path) -> List[dict]:
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}')
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def _curves(work_dir: Path) -> dict:
    """Per epoch: mean training loss, summed iteration time (training only), held-out top-1."""
    rows = _scalars(work_dir)
    loss: Dict[int, List[float]] = {}
    secs: Dict[int, List[float]] = {}
    val = {}
    for r in rows:
        if 'accuracy/top1' in r:
            val[int(r['step'])] = float(r['accuracy/top1'])
        elif 'loss' in r and 'epoch' in r:
            loss.setdefault(int(r['epoch']), []).append(float(r['loss']))
            secs.setdefault(int(r['epoch']), []).append(float(r.get('time', 0.0)))
    epochs = sorted(loss)
    return dict(epoch=epochs, train_loss=[statistics.fmean(loss[e]) for e in epochs],
                epoch_time=[sum(secs[e]) for e in epochs], iters_per_epoch=[len(loss[e]) for e in epochs],
                val_epoch=sorted(val), val_top1=[val[e] for e in sorted(val)])


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: what a run costs whatever else loads the machine."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def count_params(config: Path) -> int:
    """Trainable parameters of the config's model (built here, as the tools build it)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS as MM_MODELS

    import snl_plugins.cls  # noqa: F401  (TimmClassifier)
    model = MM_MODELS.build(Config.fromfile(str(config)).model)
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _cfg_options(data_root: Path, epochs: int, seed: int, batch_size: Optional[int]) -> List[str]:
    opts = [f'randomness.seed={seed}', f'train_cfg.max_epochs={epochs}', f'param_scheduler.T_max={epochs}',
            f'param_scheduler.end={epochs}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.append(f'{loader}.dataset.data_root={data_root}')
    if batch_size:
        opts.append(f'train_dataloader.batch_size={batch_size}')
    return opts


def train_and_test(label: str, config: Path, work_dir: Path, data_root: Path, epochs: int, seed: int,
                   batch_size: Optional[int] = None, quiet: bool = False) -> dict:
    """``tools/train.py`` then ``tools/test.py`` on the final checkpoint; returns the run's numbers and curves."""
    opts = _cfg_options(data_root.resolve(), epochs, seed, batch_size)

    def echo(line):
        m = _VAL_RE.search(line)
        if m and not quiet:
            return f'  [{label}, seed {seed}] epoch {m.group(1)}/{epochs}: held-out top-1 {float(m.group(2)):.2f}'
        return None

    t0, cpu0 = time.perf_counter(), _children_cpu()
    _run_tool(['tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *opts],
              work_dir / 'train_stdout.log', echo)
    train_wall, train_cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    last = work_dir / 'last_checkpoint'
    ckpt = Path(last.read_text().strip()) if last.is_file() else work_dir / f'epoch_{epochs}.pth'
    if not ckpt.is_absolute():
        ckpt = work_dir / ckpt
    t0 = time.perf_counter()
    out = _run_tool(['tools/test.py', config, ckpt, '--work-dir', work_dir / 'test', '--cfg-options', *opts],
                    work_dir / 'test_stdout.log')
    test_wall = time.perf_counter() - t0
    m = _TEST_RE.search(out)
    if not m:
        raise RuntimeError(f'no "Epoch(test) ... accuracy/top1" in the output of tools/test.py: {work_dir}/test_stdout.log')
    curves = _curves(work_dir)
    return dict(model=label, config=str(config.relative_to(ROOT) if config.is_relative_to(ROOT) else config),
                seed=seed, epochs=epochs, work_dir=str(work_dir), checkpoint=str(ckpt), top1=float(m.group(1)),
                last_val_top1=curves['val_top1'][-1] if curves['val_top1'] else None,
                sec_per_epoch=statistics.fmean(curves['epoch_time']) if curves['epoch_time'] else float('nan'),
                train_wall_s=train_wall, train_cpu_s=train_cpu, test_wall_s=test_wall, curves=curves)


# --------------------------------------------------------------------------------------------------- reporting
def _mean_std(xs: Sequence[float], digits: int = 2) -> str:
    if len(xs) == 1:
        return f'{xs[0]:.{digits}f}'
    return f'{statistics.fmean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}'


def summarize(runs: List[dict], params: Dict[str, int]) -> List[dict]:
    """One row per model: top-1 per seed, mean, std, paired difference to the first model, time, parameters."""
    labels = list(dict.fromkeys(r['model'] for r in runs))
    base = {r['seed']: r['top1'] for r in runs if r['model'] == labels[0]}
    rows = []
    for label in labels:
        rs = sorted((r for r in runs if r['model'] == label), key=lambda r: r['seed'])
        top1 = [r['top1'] for r in rs]
        diffs = [r['top1'] - base[r['seed']] for r in rs if r['seed'] in base]
        rows.append(dict(model=label, seeds=[r['seed'] for r in rs], top1=top1, top1_mean=statistics.fmean(top1),
                         top1_std=statistics.stdev(top1) if len(top1) > 1 else 0.0,
                         delta=diffs, sec_per_epoch=[r['sec_per_epoch'] for r in rs],
                         train_wall_s=[r['train_wall_s'] for r in rs], train_cpu_s=[r['train_cpu_s'] for r in rs],
                         params=params.get(label)))
    return rows


def format_table(rows: List[dict], n_test: Optional[int] = None) -> str:
    several = len(rows[0]['top1']) > 1
    head = ['model', 'held-out top-1 (%)' + (' mean ± std' if several else ''), 'per seed', 'Δ vs baseline (pts)',
            's / epoch (train)', 'train run: wall s (CPU s)', 'params']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '|'.join(['---'] + ['---:'] * (len(head) - 1)) + '|']
    for i, r in enumerate(rows):
        per_seed = ', '.join(f'{t:.1f}' for t in r['top1'])
        if i == 0:
            delta = '—'
        elif not r['delta']:
            delta = 'n/a'
        elif len(r['delta']) == 1:
            delta = f'{r["delta"][0]:+.2f}'
        else:
            delta = f'{statistics.fmean(r["delta"]):+.2f} ± {statistics.stdev(r["delta"]):.2f}'
        params = f'{r["params"]:,}' if r['params'] is not None else '?'
        lines.append(f'| {r["model"]} | {_mean_std(r["top1"])} | {per_seed} | {delta} | '
                     f'{_mean_std(r["sec_per_epoch"], 1)} | {statistics.fmean(r["train_wall_s"]):.0f} '
                     f'({statistics.fmean(r["train_cpu_s"]):.0f}) | {params} |')
    if n_test:
        lines.append('')
        lines.append(f'Held-out set: {n_test} images (one image = {100.0 / n_test:.2f} points of top-1). '
                     'Top-1 of the final checkpoint by tools/test.py; s / epoch sums the training iterations\' times '
                     '(no validation, no start-up); a train run\'s wall and CPU seconds (mean over seeds) cover the '
                     'whole tools/train.py process (start-up, training, validation every epoch, checkpoints).')
    return '\n'.join(lines)


def plot_curves(runs: List[dict], path: Path, title: str = '') -> Path:
    """Held-out top-1 and training loss per epoch, every model and seed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = list(dict.fromkeys(r['model'] for r in runs))
    colors = {label: f'C{i if i == 0 else 3 * i}' for i, label in enumerate(labels)}
    styles = ['-', '--', ':', '-.']
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in runs:
        c = r['curves']
        ls = styles[r['seed'] % len(styles)]
        name = f'{r["model"]}, seed {r["seed"]}'
        ax1.plot(c['val_epoch'], c['val_top1'], ls, color=colors[r['model']], marker='o', ms=3, label=name)
        ax2.plot(c['epoch'], c['train_loss'], ls, color=colors[r['model']], marker='o', ms=3, label=name)
    ax1.set(xlabel='epoch', ylabel='held-out top-1 (%)', title='held-out top-1')
    lows = [v for r in runs for v in r['curves']['val_top1'][len(r['curves']['val_top1']) // 2:]]
    if lows:
        ax1.set_ylim(max(0.0, min(lows) - 5), 100.5)
    ax2.set(xlabel='epoch', ylabel='training loss (mean per epoch)', title='training loss', yscale='log')
    from matplotlib.ticker import MaxNLocator
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.legend(fontsize=7, loc='upper right')
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------------------- main
def run_demo(out='work_dirs/demo', seeds: Sequence[int] = (0, 1), epochs: int = 6, task: str = 'digits',
             train_size: Optional[int] = None, test_size: Optional[int] = None, batch_size: Optional[int] = None,
             quiet: bool = False) -> dict:
    """Write the data, train and test both models for every seed, report. Returns ``results.json``'s content."""
    t_start, load0 = time.perf_counter(), list(os.getloadavg())
    out = Path(out)
    if not out.is_absolute():
        out = (Path.cwd() / out)
    out.mkdir(parents=True, exist_ok=True)
    if task == 'digits':
        data_root = out / 'data' / 'digits16'
        info = write_digits(data_root, train_size=train_size, test_size=test_size)
        models = MODELS
    elif task == 'pairs':
        data_root = out / 'data' / 'pairs32'
        kw = {}
        if train_size is not None:
            kw.update(n_train=train_size, train_size=max(train_size, 50))
        if test_size is not None:
            kw.update(n_test=test_size, test_size=max(test_size, 50))
        info = write_digit_pairs(data_root, **kw)
        models = PAIR_MODELS
    else:
        raise ValueError(f"task must be 'digits' or 'pairs', got {task!r}")
    print(f'data: {data_root} ({info["n_train"]} training / {info["n_test"]} held-out images)', flush=True)
    params = {label: count_params(CFG_DIR / cfg) for label, cfg in models}

    runs = []
    for seed in seeds:
        for label, cfg in models:
            work_dir = out / f'{Path(cfg).stem}_seed{seed}'
            if not quiet:
                print(f'[{label}, seed {seed}] tools/train.py {CFG_DIR.relative_to(ROOT) / cfg} '
                      f'--work-dir {work_dir} ({epochs} epochs)', flush=True)
            run = train_and_test(label, CFG_DIR / cfg, work_dir, data_root, epochs, seed, batch_size, quiet)
            if not quiet:
                print(f'[{label}, seed {seed}] tools/test.py on {Path(run["checkpoint"]).name}: top-1 '
                      f'{run["top1"]:.2f}, {run["sec_per_epoch"]:.1f} s / epoch, train {run["train_wall_s"]:.0f} s '
                      f'wall ({run["train_cpu_s"]:.0f} CPU s)', flush=True)
            (work_dir / 'run.json').write_text(json.dumps(run, indent=1))
            runs.append(run)
    return report(out, runs, params, info, task, epochs, seeds, data_root, t_start, load0)


def report(out: Path, runs: List[dict], params: Dict[str, int], info: dict, task: str, epochs: int,
           seeds: Sequence[int], data_root: Path, t_start: Optional[float] = None, load0=None) -> dict:
    """The table, ``results.{md,json}`` and ``learning_curves.png`` from the runs (``run_demo``'s, or the ``run.json``
    files of finished work dirs with ``--report-only``)."""
    load0 = load0 or list(os.getloadavg())
    rows = summarize(runs, params)
    table = format_table(rows, info['n_test'])
    total = time.perf_counter() - t_start if t_start is not None else float('nan')
    title = (f'{task}: {info["n_train"]} train / {info["n_test"]} held-out, {epochs} epochs, '
             f'seeds {", ".join(map(str, seeds))}')
    png = plot_curves(runs, out / 'learning_curves.png', title)
    results = dict(task=task, epochs=epochs, seeds=list(seeds), data=dict((k, v) for k, v in info.items()
                                                                          if not k.endswith('_index')),
                   data_root=str(data_root), total_wall_s=total, torch_threads=_torch_threads(),
                   cpu_count=os.cpu_count(), loadavg_start=load0, loadavg_end=list(os.getloadavg()), rows=rows,
                   runs=runs, table=table, png=str(png))
    (out / 'results.json').write_text(json.dumps(results, indent=1))
    total_s = f'{total:.0f} s' if total == total else 'n/a (--report-only)'
    (out / 'results.md').write_text(f'# {title}\n\n{table}\n\nTotal wall time: {total_s} on {os.cpu_count()} CPUs '
                                    f'(load average {load0[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).\n')
    print()
    print(table)
    print(f'\nlearning curves: {png}\nresults: {out / "results.md"}, {out / "results.json"}\n'
          f'work dirs (checkpoints, logs): {", ".join(r["work_dir"] for r in runs)}\n'
          f'total wall time: {total_s}', flush=True)
    return results


def report_only(out, task: str = 'digits', epochs: Optional[int] = None) -> dict:
    out = Path(out).resolve()
    models = MODELS if task == 'digits' else PAIR_MODELS
    data_root = out / 'data' / ('digits16' if task == 'digits' else 'pairs32')
    info = json.loads((data_root / 'split.json').read_text())
    runs = []
    for label, cfg in models:
        for f in sorted(out.glob(f'{Path(cfg).stem}_seed*/run.json')):
            runs.append(json.loads(f.read_text()))
    runs.sort(key=lambda r: (r['seed'], [m for m, _ in models].index(r['model'])))
    if not runs:
        raise SystemExit(f'no */run.json under {out}')
    seeds = sorted({r['seed'] for r in runs})
    params = {label: count_params(CFG_DIR / cfg) for label, cfg in models}
    return report(out, runs, params, info, task, epochs or runs[0]['epochs'], seeds, data_root)


def _torch_threads() -> int:
    try:
        import torch
        return int(torch.get_num_threads())
    except Exception:  # pragma: no cover
        return -1


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Train and evaluate PreResNet-20 and PreResNet-20 + SNL on scikit-learn\'s '
                                'handwritten digits through tools/train.py and tools/test.py; print a table, save '
                                'learning curves and the work dirs.')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1], help='training seeds (default: 0 1)')
    p.add_argument('--epochs', type=int, default=None, help='epochs per run (default: 6 for digits, 15 for pairs)')
    p.add_argument('--out', default='work_dirs/demo', help='output folder (data, work dirs, table, PNG)')
    p.add_argument('--task', choices=('digits', 'pairs'), default='digits',
                   help='digits: the 10-class digits (default); pairs: the context variant (same digit or not, two '
                   'digits far apart on a 32x32 canvas)')
    p.add_argument('--train-size', type=int, default=None,
                   help='digits: keep a stratified subset of the 1,297 training images; pairs: number of training '
                   'pairs (default 2000)')
    p.add_argument('--test-size', type=int, default=None,
                   help='digits: keep a stratified subset of the 500 held-out images; pairs: number of test pairs '
                   '(default 1000)')
    p.add_argument('--batch-size', type=int, default=None, help='training batch (default: the config\'s, 64)')
    p.add_argument('--quiet', action='store_true', help='print only the final table')
    p.add_argument('--report-only', action='store_true',
                   help='train nothing: rebuild the table and the PNG from the run.json of every finished work dir '
                   'under --out (e.g. after an interrupted demo)')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    epochs = args.epochs or (6 if args.task == 'digits' else 15)
    if epochs < 1:
        raise SystemExit('--epochs must be >= 1')
    if args.report_only:
        return report_only(args.out, args.task, epochs)
    return run_demo(out=args.out, seeds=args.seeds, epochs=epochs, task=args.task, train_size=args.train_size,
                    test_size=args.test_size, batch_size=args.batch_size, quiet=args.quiet)
