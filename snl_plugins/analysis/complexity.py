"""Parameters and FLOPs of each block type and each registered model, with mmengine's complexity analysis
(``mmengine.analysis.get_model_complexity_info``; FLOPs there are multiply-adds of convolutions, matrix products and
norms, element-wise ops excluded).

The counter traces the graph and skips operators it has no handle for. Element-wise ones (add, mul, softmax, where)
are excluded by convention; a skipped operator that does matrix work (torch's fused ``scaled_dot_product_attention``
of NL's softmax path, an ``einsum``) would be missing from the total, so it is listed, and the analytic count of the
block's affinity products (from the affinity the block used, ``capture_affinities``) is given beside:

- dense: forming A (N M E for a dot / softmax kernel of E channels) and A Z (N M C_z);
- factorised (A = diag(r) L^T R diag(c), K rows): Z R^T and (.) L, K (N + M) C_z, plus the degrees K (N + M);
- fused softmax: Q K^T and A V, N M (E + C_z) at every application, never stored;
times the number of applications (the units of a stage). ``total_with_unseen`` adds it where the counter missed it.

Models from configs of every family are counted on a random sample in their input layout (``example_input``: images,
mmaction2 3D clips with 5D NCTHW inputs, 2D recognizers' frames, re-ID clips), mmaction2 recognizers through their
head (``common.whole_network_kwargs``; the counter calls ``module(*inputs)``, so a wrapper passes the keywords).
"""
from __future__ import annotations

import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

__all__ = ['MATRIX_OPS', 'affinity_macs', 'count', 'block_table', 'model_table', 'registered_models',
           'markdown_table', 'example_input', 'DEFAULT_INPUT']

# Operators doing matrix work that mmengine's counter has no handle for (element-wise ones are excluded on purpose).
MATRIX_OPS = ('aten::scaled_dot_product_attention', 'aten::_scaled_dot_product_flash_attention',
              'aten::_scaled_dot_product_efficient_attention', 'aten::_scaled_dot_product_attention_math',
              'aten::einsum', 'aten::baddbmm', 'aten::addbmm', 'aten::tensordot', 'aten::chain_matmul',
              'aten::multi_dot', 'aten::matrix_power')


def affinity_macs(affinity, value_channels: int, applications: int = 1, embed_channels: Optional[int] = None) -> dict:
    """Analytic multiply-adds of forming and applying an affinity (see the module docstring)."""
    b, n, m = affinity.shape
    form = affinity.form
    if form == 'dense':
        e = embed_channels or value_channels
        build, apply = b * n * m * e, b * n * m * value_channels
    elif form == 'factorised':
        k = affinity.rank
        build, apply = b * k * (n + m), b * k * (n + m) * value_channels
    else:  # the fused kernel recomputes Q K^T at every application
        e = affinity.query.shape[-1]
        build, apply = 0, b * n * m * (e + value_channels)
    return dict(form=form, shape=[b, n, m], build=build, apply=apply * applications, total=build + apply * applications)


class _WithKeywords(nn.Module):
    """``model(*inputs, **kwargs)`` as ``module(*inputs)``, the call the counter traces."""

    def __init__(self, model: nn.Module, kwargs: dict):
        super().__init__()
        self.model, self.kwargs = model, kwargs

    def forward(self, *inputs):
        return self.model(*inputs, **self.kwargs)


def _analyzer_unsupported(model: nn.Module, inputs: tuple) -> Dict[str, int]:
    from mmengine.analysis import FlopAnalyzer
    fa = FlopAnalyzer(model, inputs)
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    fa.total()
    return dict(fa.unsupported_ops())


def _block_analytic(model: nn.Module, inputs: tuple, forward_kwargs: dict) -> List[dict]:
    """Analytic affinity counts of every block of ``model`` for one forward of ``inputs``."""
    from ..blocks import capture_affinities, nonlocal_modules
    from .common import block_type
    blocks = nonlocal_modules(model)
    if not blocks:
        return []
    with torch.no_grad(), capture_affinities(model) as records:
        model(*inputs, **forward_kwargs)
    out = []
    for name, block in blocks.items():
        kind = block_type(block)
        units = len(getattr(block, 'units', [])) or 1
        value = 1 if kind == 'CGNL' else block.inter_channels
        for aff in records[name][:1]:
            out.append(dict(block=name, type=kind, **affinity_macs(aff, value, units, block.inter_channels)))
    return out


def count(model: nn.Module, inputs: tuple, forward_kwargs: Optional[dict] = None) -> dict:
    """mmengine's params / FLOPs of ``model(*inputs, **forward_kwargs)``, the matrix operators it could not see, and
    the analytic affinity counts of the model's blocks."""
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    forward_kwargs = forward_kwargs or {}
    traced = _WithKeywords(model, forward_kwargs) if forward_kwargs else model
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('ERROR')  # the counter warns for every element-wise op
    try:
        info = get_model_complexity_info(traced, inputs=inputs, show_table=False, show_arch=False)
        unsupported = _analyzer_unsupported(traced, inputs)
    finally:
        logger.setLevel(level)
    unseen_ops = {k: v for k, v in unsupported.items() if k in MATRIX_OPS}
    analytic = _block_analytic(model, inputs, forward_kwargs)
    # the affinity products of a block are missed when the block ran on a path the counter cannot see
    missed = sum(a['total'] for a in analytic if a['form'] == 'fused_softmax') if unseen_ops else 0
    return dict(params=int(info['params']), flops=int(info['flops']), unseen_ops=unseen_ops,
                other_unsupported_ops=sorted(k for k in unsupported if k not in MATRIX_OPS),
                analytic=analytic, analytic_affinity_total=sum(a['total'] for a in analytic),
                missed_by_counter=missed, total_with_unseen=int(info['flops']) + missed)


DEFAULT_BLOCKS = (
    ('SNL', dict(type='SNL')), ('SNL dense', dict(type='SNL', path='dense')),
    ('SNL factorised', dict(type='SNL', path='factorised')),
    ('gSNL', dict(type='gSNL')), ('NL', dict(type='NL')), ('NL dense', dict(type='NL', path='dense')),
    ('NL dot', dict(type='NL', kernel='dot')), ('NS', dict(type='NS')), ('A2', dict(type='A2')),
    ('CGNL', dict(type='CGNL')), ('SP3 gSNL', dict(type='NonlocalStage', unit='gSNL', num_units=3)),
    ('SP3 NS', dict(type='NonlocalStage', unit='NS', num_units=3)),
)


def block_table(channels: int, spatial: Sequence[int], reduction: float = 2,
                blocks: Sequence[Tuple[str, dict]] = DEFAULT_BLOCKS, show_progress: bool = True) -> List[dict]:
    """One row per block configuration at input ``1 x channels x spatial``."""
    from mmengine.registry import MODELS

    import snl_plugins  # noqa: F401
    from .common import progress
    rows = []
    bar = progress(len(blocks), show_progress)
    for label, cfg in blocks:
        cfg = dict(cfg, in_channels=channels, dim=len(spatial))
        cfg.setdefault('reduction', reduction)
        block = MODELS.build(cfg).eval()
        x = torch.randn(1, channels, *spatial)
        rows.append(dict(name=label, config=cfg, input=[1, channels, *spatial], **count(block, (x,))))
        bar.update()
    bar.close()
    return rows


def registered_models() -> List[str]:
    """The timm model names this package registers (PreResNets, ResNets, each with every block type)."""
    import snl_plugins.timm  # noqa: F401
    names = []
    for mod in ('snl_plugins.timm.preresnet', 'snl_plugins.timm.resnet'):
        names += list(getattr(sys.modules[mod], 'default_cfgs', {}))
    return names


# Per-sample network input when --input-shape is not given, in the order of the model's input layout
# (common.LAYOUTS): CIFAR images, 8-frame 112 x 112 clips (C T H W, or T C H W for 2D recognizers), re-ID clips of
# 4 frames of 224 x 112 (the configs' t4).
DEFAULT_INPUT = {'image': (3, 32, 32), 'video': (3, 8, 112, 112), 'frames': (8, 3, 112, 112),
                 'tracklet': (4, 3, 224, 112)}


def example_input(model: nn.Module, shape: Optional[Sequence[int]] = None) -> torch.Tensor:
    """A random batch of one sample for ``model``'s forward: ``shape`` is the per-sample (per-clip) input, C x H x W
    for images, C x T x H x W for mmaction2 3D clips (one clip is added), T x C x H x W for a clip of a 2D recognizer
    or re-ID."""
    from .common import LAYOUTS, input_layout
    layout = input_layout(model)
    shape = tuple(shape or DEFAULT_INPUT[layout])
    if len(shape) != len(DEFAULT_INPUT[layout]):
        raise ValueError(f'{type(model).__name__} takes {LAYOUTS[layout]}: --input-shape wants '
                         f'{len(DEFAULT_INPUT[layout])} numbers, got {list(shape)}')
    return torch.randn(1, 1, *shape) if layout == 'video' else torch.randn(1, *shape)


def model_table(names: Sequence[str] = (), configs: Sequence[str] = (), input_shape: Optional[Sequence[int]] = None,
                cfg_options: Optional[dict] = None, show_progress: bool = True) -> List[dict]:
    """Rows for timm model names (input: ``input_shape`` or the model's pretrained_cfg input size) and for models
    built from configs of any family (input: ``input_shape`` or :data:`DEFAULT_INPUT` of the model's layout)."""
    import timm

    import snl_plugins.timm  # noqa: F401
    from .common import input_layout, load_model, progress, whole_network_kwargs
    rows = []
    bar = progress(len(names) + len(configs), show_progress)
    for name in names:
        model = timm.create_model(name, pretrained=False).eval()
        shape = tuple(input_shape or model.pretrained_cfg.get('input_size', (3, 224, 224)))
        rows.append(dict(name=name, layout='image', input=[1, *shape], **count(model, (torch.randn(1, *shape),))))
        bar.update()
    for config in configs:
        model, _ = load_model(config, cfg_options=cfg_options)
        x = example_input(model, input_shape)
        rows.append(dict(name=config, layout=input_layout(model), input=list(x.shape),
                         **count(model, (x,), whole_network_kwargs(model))))
        bar.update()
    bar.close()
    return rows


def _fmt(v: float) -> str:
    for unit, scale in (('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(v) >= scale:
            return f'{v / scale:.3f}{unit}'
    return str(int(v))


def markdown_table(rows: List[dict], title: str) -> str:
    lines = [f'### {title}', '',
             '| name | input | params | FLOPs (mmengine) | matrix ops the counter cannot see | affinity products '
             '(analytic) | FLOPs incl. unseen |',
             '| --- | --- | ---: | ---: | --- | ---: | ---: |']
    for r in rows:
        unseen = ', '.join(f'{k} x{v}' for k, v in r['unseen_ops'].items()) or '-'
        forms = '/'.join(sorted({a['form'] for a in r['analytic']}))
        analytic = f'{_fmt(r["analytic_affinity_total"])} ({forms})' if r['analytic'] else '-'
        lines.append(f'| {r["name"]} | {"x".join(map(str, r["input"]))} | {_fmt(r["params"])} | '
                     f'{_fmt(r["flops"])} | {unseen} | {analytic} | {_fmt(r["total_with_unseen"])} |')
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        description='Parameters and FLOPs (mmengine get_model_complexity_info) of every block type at a given input '
        'and of registered models / models from configs, as markdown tables; matrix operators the counter cannot '
        'see are listed with the analytic count of the affinity products beside. Writes '
        '<out-dir>/complexity.{md,json,png}.')
    p.add_argument('--channels', type=int, default=64, help='block input channels C1 (default 64)')
    p.add_argument('--size', type=int, nargs='+', default=[32, 32],
                   help='block input spatial size: L, H W or T H W (default 32 32)')
    p.add_argument('--reduction', type=float, default=2, help='C1 / Cs (default 2, the paper\'s "Sub 2")')
    p.add_argument('--no-blocks', action='store_true', help='skip the block table')
    p.add_argument('--models', nargs='+', default=[],
                   help='timm model names to count, or "all" for every name this package registers')
    p.add_argument('--configs', nargs='+', default=[],
                   help='configs whose model to count (classification, segmentation, video, re-ID)')
    p.add_argument('--input-shape', type=int, nargs='+',
                   help='per-sample model input in the model\'s layout: C H W for images (classification, '
                   'segmentation), C T H W for an mmaction2 3D clip, T C H W for a clip of a 2D recognizer (VTN) or '
                   're-ID (default: the timm model\'s input size; for configs 3 32 32, 3 8 112 112, 8 3 112 112 and '
                   '4 3 224 112); one family per call when given. The table\'s input column is the whole batch the '
                   'forward took; mmaction2 recognizers are counted through their head')
    p.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                   help='override config settings, e.g. model.pretrained=None for a re-ID config whose ImageNet '
                   'weight file is not here')
    p.add_argument('--out-dir', default='analysis')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def plot_complexity(rows: List[dict], path: str) -> str:
    import os.path as osp

    from .common import matplotlib_pyplot, save_figure
    plt = matplotlib_pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(max(6, 0.6 * len(rows) + 4), 3.8))
    names = [osp.splitext(osp.basename(r['name']))[0] for r in rows]  # config paths: their file names
    axes[0].bar(names, [r['params'] for r in rows])
    axes[0].set_title('parameters')
    axes[1].bar(names, [r['flops'] for r in rows], label='mmengine')
    axes[1].bar(names, [r['missed_by_counter'] for r in rows], bottom=[r['flops'] for r in rows],
                label='unseen (analytic)')
    axes[1].set_title('FLOPs (multiply-adds)')
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.tick_params(axis='x', rotation=60, labelsize=7)
    return save_figure(fig, path)


def main(argv=None) -> dict:
    import os.path as osp

    from .common import output_paths, parse_cfg_options, save_json
    args = parse_args(argv)
    out, md = {}, []
    if not args.no_blocks:
        out['blocks'] = block_table(args.channels, args.size, args.reduction, show_progress=not args.no_progress)
        md.append(markdown_table(out['blocks'], f'Blocks, input 1 x {args.channels} x {" x ".join(map(str, args.size))}'
                                 f', C1 / Cs = {args.reduction:g}'))
    names = registered_models() if args.models == ['all'] else args.models
    if names or args.configs:
        out['models'] = model_table(names, args.configs, args.input_shape, parse_cfg_options(args.cfg_options),
                                    not args.no_progress)
        md.append(markdown_table(out['models'], 'Models'))
    if not out:
        raise SystemExit('nothing to count: drop --no-blocks or give --models / --configs')
    png, js = output_paths(args.out_dir, 'complexity')
    text = '\n'.join(md)
    with open(osp.join(args.out_dir, 'complexity.md'), 'w') as f:
        f.write(text)
    save_json(out, js)
    plot_complexity(out.get('blocks', []) + out.get('models', []), png)
    print(text)
    print(f'wrote {png}, {js} and {osp.join(args.out_dir, "complexity.md")}')
    return out
