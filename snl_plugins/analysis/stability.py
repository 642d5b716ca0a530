"""The stable hypothesis (Sec. 3.3, Fig. 2 and Fig. 6): histograms of the element strengths of A, A^2, A^3, A^4 on
shared bins, and how far A is from idempotent, ``||A^2 - A||_F / ||A||_F`` per sample.

The affinities are the ones the blocks used, collected with :func:`snl_plugins.blocks.capture_affinities` during
ordinary forwards over a data split; nothing is recomputed outside the blocks. How the powers are formed depends on
the affinity's form (``Affinity.form``) and size, and is reported in ``methods`` (several when the matrices' sizes
differ, as with segmentation's whole-image inference; ``shapes_per_sample`` lists the sizes seen, ``rows_counted``
the rows histogrammed over all matrices):

- ``lowrank``: factorised affinities (SNL / gSNL dot kernel, A2, CGNL): ``A = U V`` with U N x K, V K x N, so
  ``A^k = U (V U)^(k-1) V`` costs O(N^2 K) to form and the idempotency gap is exact from K x K Gram matrices
  without N x N. All N x N entries are histogrammed when N^2 <= ``max_entries``, else ``num_rows`` sampled rows.
- ``dense``: a dense (or fused-softmax, materialised) affinity with N^2 <= ``max_entries``: exact powers by matrix
  products, every entry histogrammed, exact gap.
- ``sampled_rows``: a dense / fused affinity too large to hold: ``num_rows`` sampled rows of A^k, obtained by
  multiplying row vectors by A in row blocks (never N x N at once); the gap is the ratio of the sampled rows' norms.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..ops import Affinity

__all__ = ['HopHistogram', 'lowrank_factors', 'affinity_rows', 'rows_times_affinity', 'dense_powers',
           'idempotency_gap', 'analyse_affinity', 'stable_hypothesis', 'plot_stable_hypothesis', 'summarise']

POWERS = (1, 2, 3, 4)


class HopHistogram:
    """Counts of the entries of A^k (k in ``powers``) on shared bins. Every entry is counted: values below the first
    edge fall in the first bin and values above the last in the last (``below`` / ``above`` say how many)."""

    def __init__(self, bins: int = 50, value_range: Tuple[float, float] = (1e-6, 1.0), scale: str = 'log',
                 powers: Sequence[int] = POWERS):
        lo, hi = value_range
        if scale not in ('log', 'linear'):
            raise ValueError(f"scale must be 'log' or 'linear', got {scale!r}")
        if not hi > lo or (scale == 'log' and lo <= 0):
            raise ValueError(f'bad histogram range {value_range} for a {scale} scale')
        if scale == 'log':
            self.edges = torch.logspace(math.log10(lo), math.log10(hi), bins + 1, dtype=torch.float64)
        else:
            self.edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
        self.scale, self.powers = scale, tuple(powers)
        self.counts = {k: torch.zeros(bins, dtype=torch.long) for k in self.powers}
        self.below = {k: 0 for k in self.powers}
        self.above = {k: 0 for k in self.powers}
        self.entries = {k: 0 for k in self.powers}

    def add(self, k: int, values: Tensor) -> None:
        v = values.detach().reshape(-1).to(torch.float64).cpu()
        idx = torch.bucketize(v, self.edges[1:-1], right=True)
        self.counts[k] += torch.bincount(idx, minlength=len(self.edges) - 1)
        self.below[k] += int((v < self.edges[0]).sum())
        self.above[k] += int((v > self.edges[-1]).sum())
        self.entries[k] += v.numel()

    def as_dict(self) -> dict:
        return dict(scale=self.scale, edges=self.edges.tolist(),
                    counts={f'A^{k}': self.counts[k].tolist() for k in self.powers},
                    entries={f'A^{k}': self.entries[k] for k in self.powers},
                    below_range={f'A^{k}': self.below[k] for k in self.powers},
                    above_range={f'A^{k}': self.above[k] for k in self.powers})


def lowrank_factors(affinity: Affinity, b: int, dtype=torch.float64) -> Tuple[Tensor, Tensor]:
    """``(U, V)`` with ``A_b = U V`` (U: N x K, V: K x M) for a factorised affinity."""
    u, v = affinity.lowrank()
    return u[b].to(dtype), v[b].to(dtype)


def affinity_rows(affinity: Affinity, b: int, rows: Optional[Tensor] = None, dtype=torch.float64) -> Tensor:
    """Rows ``rows`` (all when None) of sample ``b``'s affinity, S x M, without forming the rest."""
    form = affinity.form
    if form == 'dense':
        a = affinity.dense[b].to(dtype)
        return a if rows is None else a[rows]
    if form == 'factorised':
        u, v = lowrank_factors(affinity, b, dtype)
        return (u if rows is None else u[rows]) @ v
    q, k = affinity.query[b].to(dtype), affinity.key[b].to(dtype)
    if rows is not None:
        q = q[rows]
    return torch.softmax(q @ k.t() * affinity.scale, dim=-1)


def rows_times_affinity(affinity: Affinity, b: int, r: Tensor, chunk: int = 1024) -> Tensor:
    """``R A_b`` for row vectors R (S x N), by blocks of ``chunk`` rows of A (O(chunk x M) memory)."""
    if affinity.form == 'factorised':
        u, v = lowrank_factors(affinity, b, r.dtype)
        return (r @ u) @ v
    n = r.shape[1]
    out = None
    for start in range(0, n, chunk):
        idx = torch.arange(start, min(start + chunk, n))
        part = r[:, idx] @ affinity_rows(affinity, b, idx, r.dtype)
        out = part if out is None else out + part
    return out


def dense_powers(a: Tensor, powers: Sequence[int] = POWERS) -> Dict[int, Tensor]:
    """``{k: A^k}`` for a square matrix."""
    out, cur = {}, a
    for k in range(1, max(powers) + 1):
        if k > 1:
            cur = cur @ a
        if k in powers:
            out[k] = cur
    return out


def idempotency_gap(a: Tensor) -> float:
    """``||A^2 - A||_F / ||A||_F`` of a dense square matrix (0 for an idempotent one)."""
    norm = torch.linalg.matrix_norm(a)
    return float(torch.linalg.matrix_norm(a @ a - a) / norm) if norm > 0 else 0.0


def _lowrank_gap(u: Tensor, v: Tensor) -> float:
    """Exact ``||A^2 - A||_F / ||A||_F`` for ``A = U V``: ``||U X V||_F^2 = tr(X^T (U^T U) X (V V^T))``."""
    gu, gv = u.t() @ u, v @ v.t()
    core = v @ u
    x = core - torch.eye(core.shape[0], dtype=core.dtype)
    num = torch.trace(x.t() @ gu @ x @ gv).clamp_min(0)
    den = torch.trace(gu @ gv).clamp_min(0)
    return float(torch.sqrt(num / den)) if den > 0 else 0.0


def analyse_affinity(affinity: Affinity, hist: HopHistogram, max_entries: int = 4096 ** 2, num_rows: int = 256,
                     generator: Optional[torch.Generator] = None) -> Tuple[List[float], str, bool]:
    """Add every sample of a (batched) affinity to ``hist``; returns ``(gaps per sample, method, all entries)``."""
    bsz, n, m = affinity.shape
    if n != m:
        raise ValueError(f'A^k needs a square affinity, got {n} x {m} (sub-sampled keys?): the stable hypothesis '
                         'applies to blocks whose keys are the query positions')
    full = n * m <= max_entries
    powers = hist.powers
    gaps, method = [], None
    for b in range(bsz):
        rows = None if full else torch.randperm(n, generator=generator)[:num_rows]
        if affinity.form == 'factorised':
            method = 'lowrank'
            u, v = lowrank_factors(affinity, b)
            core = v @ u
            left = u if rows is None else u[rows]
            cur = torch.eye(core.shape[0], dtype=core.dtype)
            for k in range(1, max(powers) + 1):
                if k > 1:
                    cur = cur @ core
                if k in powers:
                    hist.add(k, (left @ cur) @ v)
            gaps.append(_lowrank_gap(u, v))
        elif full:
            method = 'dense'
            a = affinity_rows(affinity, b)
            for k, ak in dense_powers(a, powers).items():
                hist.add(k, ak)
            gaps.append(idempotency_gap(a))
        else:
            method = 'sampled_rows'
            r = affinity_rows(affinity, b, rows)
            r1, cur = r, r
            r2 = None
            for k in range(1, max(powers) + 1):
                if k > 1:
                    cur = rows_times_affinity(affinity, b, cur)
                if k == 2:
                    r2 = cur
                if k in powers:
                    hist.add(k, cur)
            if r2 is None:
                r2 = rows_times_affinity(affinity, b, r1)
            den = torch.linalg.norm(r1)
            gaps.append(float(torch.linalg.norm(r2 - r1) / den) if den > 0 else 0.0)
    return gaps, method, full


def summarise(values: Sequence[float]) -> dict:
    t = torch.tensor(list(values), dtype=torch.float64)
    if t.numel() == 0:
        return dict(count=0)
    return dict(count=t.numel(), mean=float(t.mean()), std=float(t.std()) if t.numel() > 1 else 0.0,
                min=float(t.min()), median=float(t.median()), max=float(t.max()))


METHOD_NOTES = {
    'lowrank': 'factorised affinity A = U V: A^k = U (V U)^(k-1) V formed from its factors; the idempotency gap is '
               'exact (K x K Gram matrices, no N x N)',
    'dense': 'dense affinity: exact matrix powers, every entry counted, exact gap',
    'sampled_rows': 'affinity too large to hold: rows of A^k for randomly sampled query positions (row vectors '
                    'times A in row blocks); the gap is ||(A^2 - A)[rows]||_F / ||A[rows]||_F',
}


@torch.no_grad()
def stable_hypothesis(model, loader, blocks: Dict[str, torch.nn.Module], num_samples: Optional[int] = None,
                      bins: int = 50, value_range: Tuple[float, float] = (1e-6, 1.0), scale: str = 'log',
                      max_entries: int = 4096 ** 2, num_rows: int = 256, seed: int = 0,
                      show_progress: bool = True) -> dict:
    """Run ``model`` over ``loader`` (up to ``num_samples`` inputs) and analyse the affinity every block in
    ``blocks`` used; returns the JSON-able results, one entry per block."""
    from ..blocks import capture_affinities
    from .common import block_type, forward_batch, iterate_batches, progress
    hists = {name: HopHistogram(bins, value_range, scale) for name in blocks}
    gaps: Dict[str, List[float]] = {name: [] for name in blocks}
    info: Dict[str, dict] = {name: {} for name in blocks}
    gen = torch.Generator().manual_seed(seed)
    total = num_samples if num_samples is not None else len(loader.dataset)
    bar = progress(total, show_progress)
    inputs_seen = 0
    with capture_affinities(model) as records:
        for batch, n in iterate_batches(loader, num_samples):
            forward_batch(model, batch)
            for name in blocks:
                for affinity in records[name]:
                    g, method, full = analyse_affinity(affinity, hists[name], max_entries, num_rows, gen)
                    gaps[name] += g
                    bsz, positions = affinity.shape[:2]
                    _add(info[name], forms=affinity.form, shapes_per_sample=list(affinity.shape[1:]), methods=method)
                    d = info[name]
                    d['all_entries'] = d.get('all_entries', True) and full
                    d['matrices'] = d.get('matrices', 0) + bsz
                    d['rows_counted'] = d.get('rows_counted', 0) + bsz * (positions if full else
                                                                          min(num_rows, positions))
                records[name].clear()
            for other in records.values():
                other.clear()
            inputs_seen += n
            bar.update(n)
    bar.close()
    out = {}
    for name, block in blocks.items():
        if not info[name]:
            raise RuntimeError(f'block {name} recorded no affinity: it was not called in the forward')
        d = dict(block=name, type=block_type(block), inputs=inputs_seen, **info[name])
        # a matrix per input, per clip (video, re-ID 3D) or per frame (re-ID blocks placed per frame)
        d['matrices_per_input'] = d['matrices'] / inputs_seen
        d['method_notes'] = [METHOD_NOTES[m] for m in d['methods']]
        d['histogram'] = hists[name].as_dict()
        d['idempotency_gap'] = dict(summarise(gaps[name]), per_sample=gaps[name])
        out[name] = d
    return out


def _add(info: dict, **values) -> None:
    """Append each value to the list ``info[key]`` unless already there (forms, shapes, methods seen)."""
    for key, value in values.items():
        seen = info.setdefault(key, [])
        if value not in seen:
            seen.append(value)


def plot_stable_hypothesis(results: Dict[str, dict], path: str, title: str = '') -> str:
    """One panel per block: the histograms of A, A^2, A^3, A^4 on shared bins (as in Fig. 2 / 6)."""
    from .common import matplotlib_pyplot, save_figure
    plt = matplotlib_pyplot()
    n = len(results)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    for ax, (name, res) in zip(axes[0], results.items()):
        h = res['histogram']
        edges = h['edges']
        width = 0.8 / len(h['counts'])
        for i, (label, counts) in enumerate(h['counts'].items()):
            pos = [j + (i - 1.5) * width for j in range(len(counts))]
            ax.bar(pos, counts, width=width, label=label)
        ticks = list(range(0, len(edges), max(1, len(edges) // 6)))
        ax.set_xticks([t - 0.5 for t in ticks])
        ax.set_xticklabels([f'{edges[t]:.0e}' if h['scale'] == 'log' else f'{edges[t]:.2g}' for t in ticks],
                           rotation=30)
        ax.set_yscale('log')
        gap = res['idempotency_gap']
        ax.set_title(f'{name} ({res["type"]})\n||A^2-A||/||A||: mean {gap.get("mean", float("nan")):.3g}, '
                     f'{"/".join(res["methods"])}', fontsize=9)
        ax.set_xlabel('element strength')
        ax.set_ylabel('number of elements')
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def parse_args(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        description='Stable hypothesis (Fig. 2 / 6): histograms of the element strengths of A, A^2, A^3, A^4 of a '
        'block\'s affinity over a data split, and the idempotency gap ||A^2 - A||_F / ||A||_F per sample. The '
        'affinities are those the blocks used (capture_affinities): one N x N matrix per image, per clip (N = T x H x '
        'W for video and re-ID 3D blocks) or per frame (re-ID blocks placed per frame), over any model of our configs '
        '(classification, segmentation, video, re-ID). Factorised affinities are powered through their factors; '
        'N x N is formed only when N^2 <= --max-entries, else --num-rows sampled rows of A^k. Writes '
        '<out-dir>/stable_hypothesis.{png,json}.')
    p.add_argument('config', help='config file the model was trained with')
    p.add_argument('checkpoint', help='checkpoint (.pth from the Runner, or a plain state dict)')
    p.add_argument('--split', default='test', choices=('train', 'val', 'test'),
                   help='which dataloader of the config (default: test); its pipeline is used as is')
    p.add_argument('--block', nargs='+', help='blocks to analyse: qualified names, fnmatch patterns, substrings or '
                   'indices (default: every block / stage)')
    p.add_argument('--num-samples', type=int, help='stop after this many inputs (default: the whole split)')
    p.add_argument('--batch-size', type=int, help='override the dataloader batch size')
    p.add_argument('--bins', type=int, default=50)
    p.add_argument('--range', type=float, nargs=2, default=None, metavar=('LO', 'HI'),
                   help='histogram range (default 1e-6 1 for log, 0 1 for linear); values outside are counted in '
                   'the first / last bin')
    p.add_argument('--scale', choices=('log', 'linear'), default='log', help='bin spacing (default: log)')
    p.add_argument('--max-entries', type=int, default=4096 ** 2,
                   help='form all N x N entries of A^k when N^2 is at most this, else sample rows')
    p.add_argument('--num-rows', type=int, default=256, help='query positions sampled per matrix when N is large')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default='analysis', help='output directory (default: ./analysis)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE', help='override config settings')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    from .common import build_loader, load_model, output_paths, parse_cfg_options, save_json, select_blocks
    args = parse_args(argv)
    model, cfg = load_model(args.config, args.checkpoint, parse_cfg_options(args.cfg_options), args.device)
    blocks = select_blocks(model, args.block)
    loader = build_loader(cfg, args.split, args.batch_size)
    value_range = tuple(args.range) if args.range else ((1e-6, 1.0) if args.scale == 'log' else (0.0, 1.0))
    results = stable_hypothesis(model, loader, blocks, args.num_samples, args.bins, value_range, args.scale,
                                args.max_entries, args.num_rows, args.seed, not args.no_progress)
    png, js = output_paths(args.out_dir, 'stable_hypothesis')
    out = dict(config=args.config, checkpoint=args.checkpoint, split=args.split, blocks=results)
    save_json(out, js)
    plot_stable_hypothesis(results, png, title=f'{args.config} ({args.split})')
    for name, r in results.items():
        g = r['idempotency_gap']
        print(f'{name} ({r["type"]}, {"/".join(r["forms"])}, {"/".join(r["methods"])}): ||A^2-A||_F/||A||_F '
              f'mean {g["mean"]:.4g} median {g["median"]:.4g} max {g["max"]:.4g} over {g["count"]} matrices')
    print(f'wrote {png} and {js}')
    return out
