"""Weight spectrum (Fig. 5): the top-k eigenvalues of ``W~ = (W_g W + (W_g W)^T) / 2`` of each non-local block.

W_g (C1 x Cs) is the value projection ``g`` and W (Cs x C1) the output projection that multiplies ``A Z``: ``w2`` for
SNL / gSNL, ``w`` for NL / NS (Sec. 4.2), per unit for a ``NonlocalStage``. In the blocks' 1x1 convolutions (weights
out x in) that is ``W_g = g.weight^T`` and ``W = w.weight^T``, so ``W_g W`` maps C1 -> C1 as ``Y = X W_g W`` does.
A2 (phi, w) and CGNL (g and its grouped w, expanded block-diagonally) have no W_g / W pair in the paper; their
analogue is reported and marked so.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

__all__ = ['symmetric_weight', 'top_eigenvalues', 'block_weight_pairs', 'weight_spectrum', 'plot_spectra']


def matrix(conv: nn.Module) -> Tensor:
    """A 1x1 convolution's weight as an (in x out) matrix, grouped convolutions expanded block-diagonally."""
    w = conv.weight.detach().to(torch.float64).flatten(1)  # out x in/groups
    groups = getattr(conv, 'groups', 1)
    if groups > 1:
        out_ch, in_g = w.shape
        dense = torch.zeros(out_ch, in_g * groups, dtype=w.dtype)
        out_g = out_ch // groups
        for g in range(groups):
            dense[g * out_g:(g + 1) * out_g, g * in_g:(g + 1) * in_g] = w[g * out_g:(g + 1) * out_g]
        w = dense
    return w.t()


def symmetric_weight(wg: Tensor, w: Tensor) -> Tensor:
    """``(W_g W + (W_g W)^T) / 2`` for W_g (C1 x Cs) and W (Cs x C1)."""
    p = wg.to(torch.float64) @ w.to(torch.float64)
    return 0.5 * (p + p.t())


def top_eigenvalues(sym: Tensor, k: int = 32, order: str = 'magnitude') -> dict:
    """The k eigenvalues of a symmetric matrix of largest magnitude (``order='magnitude'``) or value (``'value'``),
    listed in decreasing value, with the counts of positive / negative / (numerically) zero eigenvalues of all."""
    eig = torch.linalg.eigvalsh(sym.to(torch.float64))
    tol = 1e-9 * max(float(eig.abs().max()), 1e-300) if eig.numel() else 0.0
    if order == 'magnitude':
        idx = torch.argsort(eig.abs(), descending=True)[:k]
        top = eig[idx]
    elif order == 'value':
        top = eig
    else:
        raise ValueError(f"order must be 'magnitude' or 'value', got {order!r}")
    top = torch.sort(top, descending=True).values[:k]
    return dict(eigenvalues=top.tolist(), size=eig.numel(), positive=int((eig > tol).sum()),
                negative=int((eig < -tol).sum()), zero=int((eig.abs() <= tol).sum()),
                trace=float(eig.sum()))


def block_weight_pairs(name: str, block: nn.Module) -> List[Tuple[str, str, nn.Module, nn.Module, str]]:
    """``(name, type, W_g conv, W conv, note)`` for a block, or each unit of a stage."""
    from .common import block_type
    units = getattr(block, 'units', None)
    if units is not None:
        return [p for k, unit in enumerate(units) for p in block_weight_pairs(f'{name}.units.{k}', unit)]
    kind = block_type(block)
    if hasattr(block, 'w2') and hasattr(block, 'g'):
        return [(name, kind, block.g, block.w2, 'W_g = g, W = w2 (the A Z term)')]
    if kind in ('NL', 'NS'):
        return [(name, kind, block.g, block.w, 'W_g = g, W = w')]
    if kind == 'A2':
        return [(name, kind, block.phi, block.w, 'analogue: W_g = phi (gathered features), W = w')]
    if kind == 'CGNL':
        return [(name, kind, block.g, block.w, 'analogue: W_g = g, W = w (grouped, block-diagonal)')]
    return []


def weight_spectrum(model: nn.Module, blocks: Dict[str, nn.Module], k: int = 32, order: str = 'magnitude') -> list:
    """One entry per block (or stage unit): its type, the weights used and the top-k eigenvalues of W~."""
    out = []
    for name, block in blocks.items():
        for unit, kind, g, w, note in block_weight_pairs(name, block):
            sym = symmetric_weight(matrix(g), matrix(w))
            out.append(dict(block=unit, type=kind, note=note, shape=list(sym.shape), **top_eigenvalues(sym, k, order)))
    return out


def plot_spectra(runs: List[dict], path: str, k: int = 32) -> str:
    """One panel per run (checkpoint), side by side: the top-k eigenvalues of every block in it, as in Fig. 5."""
    from .common import matplotlib_pyplot, save_figure
    plt = matplotlib_pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.8), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], runs):
        entries = run['blocks']
        width = 0.8 / max(len(entries), 1)
        for i, e in enumerate(entries):
            ev = e['eigenvalues']
            ax.bar([j + 1 + (i - (len(entries) - 1) / 2) * width for j in range(len(ev))], ev, width=width,
                   label=f'{e["block"].split(".")[-1] if len(entries) > 1 else e["type"]}')
        ax.axhline(0, color='k', lw=0.6)
        types = sorted({e['type'] for e in entries})
        ax.set_title(f'{run["label"]}\n{", ".join(types)}', fontsize=9)
        ax.set_xlabel(f'top {k} eigenvalues of W~')
        if len(entries) > 1:
            ax.legend(fontsize=7)
    axes[0][0].set_ylabel('eigenvalue')
    return save_figure(fig, path)


def parse_args(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        description='Weight spectrum (Fig. 5): top-k eigenvalues of W~ = (W_g W + (W_g W)^T)/2 of every non-local '
        'block (W = w2 for SNL/gSNL, w for NL/NS; stage units one by one; 2D and 3D blocks alike, including re-ID\'s '
        'blocks over a clip), one panel per checkpoint, for any model of our configs (classification, segmentation, '
        'video, re-ID). Weights only: no data is read. Writes <out-dir>/weight_spectrum.{png,json}.')
    p.add_argument('--model', nargs=2, action='append', required=True, metavar=('CONFIG', 'CHECKPOINT'),
                   help='a config and its checkpoint; repeat for several models side by side')
    p.add_argument('--label', action='append', help='panel label per --model (default: the config name)')
    p.add_argument('--block', nargs='+', help='blocks to include (names, patterns, substrings, indices)')
    p.add_argument('-k', '--top-k', type=int, default=32, help='eigenvalues per block (default: 32)')
    p.add_argument('--order', choices=('magnitude', 'value'), default='magnitude',
                   help='top by |eigenvalue| (default) or by value')
    p.add_argument('--out-dir', default='analysis')
    p.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    import os.path as osp

    from .common import load_model, output_paths, parse_cfg_options, progress, save_json, select_blocks
    args = parse_args(argv)
    if args.label and len(args.label) != len(args.model):
        raise SystemExit(f'{len(args.label)} --label for {len(args.model)} --model')
    runs = []
    bar = progress(len(args.model), not args.no_progress and len(args.model) > 1)
    for i, (config, ckpt) in enumerate(args.model):
        model, _ = load_model(config, ckpt, parse_cfg_options(args.cfg_options))
        label = args.label[i] if args.label else osp.splitext(osp.basename(config))[0]
        runs.append(dict(label=label, config=config, checkpoint=ckpt,
                         blocks=weight_spectrum(model, select_blocks(model, args.block), args.top_k, args.order)))
        bar.update()
    bar.close()
    png, js = output_paths(args.out_dir, 'weight_spectrum')
    out = dict(top_k=args.top_k, order=args.order, runs=runs)
    save_json(out, js)
    plot_spectra(runs, png, args.top_k)
    for run in runs:
        for e in run['blocks']:
            print(f'{run["label"]} {e["block"]} ({e["type"]}): {e["positive"]} positive, {e["negative"]} negative, '
                  f'{e["zero"]} zero of {e["size"]}; top: {", ".join(f"{v:.3g}" for v in e["eigenvalues"][:5])} ...')
    print(f'wrote {png} and {js}')
    return out
