"""Result tables from work dirs, in the layout of the paper's tables (rows = block type, grouped by setting), with
the paper's numbers beside ours (``paper_results.json``, which cites each table).

A work dir is what ``tools/train.py`` / ``tools/test.py`` write (mmengine): ``<work_dir>/<timestamp>/<timestamp>.json``
holds the metrics of a test run, ``<work_dir>/<timestamp>/vis_data/scalars.json`` one JSON line per logged step,
validation lines carrying the metrics. The metrics taken (``source``): ``auto`` = the latest test run if there is
one, else the last validation; ``test``; ``last`` / ``best`` validation (best by the table's first metric).

Metrics are keyed as each family logs them: top-1 / top-5 as ``accuracy/top1`` (classification, percent) and
``acc/top1`` (mmaction2's AccMetric, a fraction); ``mIoU`` / ``fwIoU`` / ``aAcc`` (mmseg, percent); ``reid/mAP`` /
``reid/rank1`` (our re-ID metric, a fraction). Fractions are turned into percent, the unit of every table.

Row identity comes from the config name (the copy mmengine leaves in the work dir, else the directory name), in the
naming of ``configs/``: ``<backbone>[-<block>][-<setting>]_...`` (OpenMMLab's
``<model>_<backbone>[-<block>]_<schedule>_...`` too), e.g. ``preresnet56-snl-sub4_1xb128-300e_cifar100`` -> backbone
preresnet56, block SNL, setting sub4; ``i3d_r50-snl_8xb8-...`` -> i3d, SNL; ``rtmta_r50-snl3d_1xp8k4-...`` -> rtmta,
SNL in its 3D reading (variant 3d, a row of its own beside the 2D one, both against the paper's SNL row);
``nonlocal_r50-d8-snlhead_...`` -> nonlocal, SNL as the decode head (variant head); a config of the paper's comparison
harness (``...-harness`` / ``...-harness-sym``, ``configs/*/paper_harness/``) adds the variant ``harness`` /
``harness-sym``, so its runs form rows of their own; ``--label DIR=SETTING:TYPE`` overrides it. Runs of the same
setting, backbone, type and variant are averaged into one row: the mean, and with two runs or more the sample standard
deviation (``std``; shown as ``mean ± std``). Re-ID's CMC is read at ranks 1, 5, 10 and 20. A work dir named
``split<N>`` (what ``tools/reid_splits.py`` writes) is person split N of iLIDS-VID / PRID2011: a row lists its splits
(``splits``), so ``result_table.py work_dirs/CONFIG/split*`` gives the 10-split protocol's averaged CMC / mAP; a split
given twice in one row is refused.
"""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import re
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['METRICS', 'canonical_metric', 'read_work_dir', 'identify', 'paper_table', 'build_table',
           'markdown', 'load_paper_results']

BLOCK_TOKENS = {'snl': 'SNL', 'gsnl': 'gSNL', 'nl': 'NL', 'ns': 'NS', 'a2': 'A2', 'cgnl': 'CGNL'}
TYPE_ORDER = ['baseline', 'NL', 'NS', 'A2', 'CGNL', 'SNL', 'gSNL']
LABELS = {'baseline': None, 'NL': '+ NL', 'NS': '+ NS', 'A2': '+ A2', 'CGNL': '+ CGNL', 'SNL': '+ *SNL',
          'gSNL': '+ *gSNL'}
BACKBONES = {'preresnet20': 'PR-20', 'preresnet56': 'PR-56', 'resnet50': 'R-50', 'i3d': 'I3D', 'slowfast': 'SlowFast',
             'p3d': 'P3D', 'vtn': 'VTN', 'mars': 'MARS', 'deeplabv3': 'DeepLabV3 R-50',
             'deeplabv3plus': 'DeepLabV3+ R-50', 'nonlocal': 'NonLocalNet R-50', 'rtmta': 'RTMta', 'rtmtp': 'RTMtp'}
# Block tokens with a suffix name a variant of the block: re-ID's 3D reading (snl3d) or a block as segmentation's
# decode head (snlhead)
VARIANT_SUFFIXES = ('3d', 'head')
# The schedule part of a config name ends the model part: GPUs x batch (1xb128, 8xb8, 4xb4) or re-ID's P x K (1xp8k4)
SCHEDULE = re.compile(r'\d+x(b\d+|p\d+k\d+)')
# Metric key prefixes whose values are fractions in [0, 1]: mmaction2's AccMetric and our re-ID metric
FRACTION_PREFIXES = ('acc', 'reid')
# canonical metric -> normalised key names (lower case, last '/' part, alphanumerics only)
METRICS = {
    'top1': ('top1', 'top1acc', 'acctop1'),
    'top5': ('top5', 'top5acc', 'acctop5'),
    'mIoU': ('miou',),
    'fwIoU': ('fwiou',),
    'aAcc': ('aacc', 'pixelacc'),
    'mAP': ('map',),
    'rank1': ('rank1', 'r1', 'cmc1'),
    'rank5': ('rank5', 'r5', 'cmc5'),
    'rank10': ('rank10', 'r10', 'cmc10'),
    'rank20': ('rank20', 'r20', 'cmc20'),
}
METRIC_ORDER = list(METRICS)


def canonical_metric(key: str) -> Optional[str]:
    norm = re.sub(r'[^0-9a-z]', '', key.lower().split('/')[-1])
    for canon, names in METRICS.items():
        if norm in names:
            return canon
    return None


def _metrics_of(record: dict) -> Dict[str, float]:
    """The canonical metrics of one logged record, in percent."""
    out = {}
    for k, v in record.items():
        canon = canonical_metric(k)
        if canon is not None and isinstance(v, (int, float)) and canon not in out:
            fraction = '/' in k and k.split('/')[0].lower() in FRACTION_PREFIXES
            out[canon] = float(v) * (100.0 if fraction else 1.0)
    return out


def _read_json_records(path: str) -> List[dict]:
    text = open(path).read().strip()
    if not text:
        return []
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, list) else [obj]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_work_dir(work_dir: str, source: str = 'auto', key_metric: Optional[str] = None) -> Tuple[dict, str]:
    """``(canonical metrics, where they came from)`` for a work dir."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir not found: {work_dir}')
    tests = sorted(p for p in glob.glob(osp.join(work_dir, '*', '*.json'))
                   if osp.splitext(osp.basename(p))[0] == osp.basename(osp.dirname(p)))
    if source in ('auto', 'test'):
        for path in reversed(tests):
            recs = [m for m in map(_metrics_of, _read_json_records(path)) if m]
            if recs:
                return recs[-1], osp.relpath(path, work_dir)
        if source == 'test':
            raise FileNotFoundError(f'no test results (<timestamp>/<timestamp>.json) in {work_dir}')
    vals = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        vals += [(m, osp.relpath(path, work_dir)) for m in map(_metrics_of, _read_json_records(path)) if m]
    if not vals:
        raise FileNotFoundError(f'no metrics in {work_dir} (neither <timestamp>/<timestamp>.json of a test run nor '
                                'validation lines in <timestamp>/vis_data/scalars.json)')
    if source == 'best':
        key = key_metric or next(k for k in METRIC_ORDER if k in vals[-1][0])
        best = max(vals, key=lambda mv: mv[0].get(key, float('-inf')))
        return best[0], f'{best[1]} (best {key})'
    return vals[-1][0], f'{vals[-1][1]} (last validation)'


def config_name(work_dir: str) -> str:
    """The config's name: the one ``*.py`` mmengine copied into the work dir root, else the directory name."""
    pys = glob.glob(osp.join(work_dir, '*.py'))
    if len(pys) == 1:
        return osp.splitext(osp.basename(pys[0]))[0]
    return osp.basename(osp.normpath(work_dir))


def identify(name: str, settings: Optional[Dict[str, str]] = None) -> dict:
    """Backbone, block type, variant (:data:`VARIANT_SUFFIXES`, else '') and setting token of a config name (see
    the module docstring)."""
    parts = []
    for part in name.split('_'):
        if SCHEDULE.fullmatch(part.lower()):
            break
        parts.append(part)
    tokens = [t.lower() for p in parts for t in p.split('-') if t]
    backbone = tokens[0] if tokens else name
    kind, variant, setting = 'baseline', '', ''
    known = set(settings or {}) - {''}
    harness = ''  # the paper's comparison harness (configs/*/paper_harness/): rows of their own, never averaged in
    for tok in tokens[1:]:
        if tok == 'harness' or (tok == 'sym' and harness):
            harness = 'harness' if tok == 'harness' else 'harness-sym'
            continue
        block, reading = next(((tok[:-len(v)], v) for v in VARIANT_SUFFIXES
                               if tok.endswith(v) and tok[:-len(v)] in BLOCK_TOKENS), (tok, ''))
        if block in BLOCK_TOKENS and kind == 'baseline':
            kind, variant = BLOCK_TOKENS[block], reading
        elif tok in known or re.fullmatch(r'(sub|stage|dp|sp)\d+', tok):
            setting = tok
    if backbone in known:  # settings named by the backbone (re-ID: rtmta / rtmtp; Table 14)
        setting = backbone
    variant = ', '.join(v for v in (variant, harness) if v)
    return dict(backbone=backbone, type=kind, variant=variant, setting_token=setting)


def split_of(work_dir: str) -> Optional[int]:
    """The person split of a work dir named ``split<N>`` (``tools/reid_splits.py``), else None."""
    m = re.fullmatch(r'split(\d+)', osp.basename(osp.normpath(work_dir)))
    return int(m.group(1)) if m else None


def _summarise(g: dict) -> None:
    """Mean (``ours``), sample standard deviation (``std``, two runs or more) and person splits of a group."""
    keys = sorted({k for r in g['runs'] for k in r['metrics']}, key=METRIC_ORDER.index)
    g['ours'], g['std'] = {}, {}
    for k in keys:
        vals = [r['metrics'][k] for r in g['runs'] if k in r['metrics']]
        g['ours'][k] = sum(vals) / len(vals)
        if len(vals) > 1:
            g['std'][k] = statistics.stdev(vals)
    splits = [r['split'] for r in g['runs'] if r['split'] is not None]
    repeated = sorted({s for s in splits if splits.count(s) > 1})
    if repeated:
        dirs = [r['work_dir'] for r in g['runs'] if r['split'] in repeated]
        raise ValueError(f'person split(s) {repeated} appear more than once in one row ({", ".join(dirs)}): a split '
                         'counted twice biases the average over splits; give each run once, or separate them with '
                         '--label DIR=SETTING:TYPE')
    g['splits'] = sorted(splits)


def load_paper_results(path: Optional[str] = None) -> dict:
    path = path or osp.join(osp.dirname(__file__), 'paper_results.json')
    with open(path) as f:
        return json.load(f)


def paper_table(table: str, path: Optional[str] = None) -> dict:
    tables = load_paper_results(path)['tables']
    key = str(table).lower().replace('table', '').strip()
    if key not in tables:
        raise KeyError(f'the paper has no table {table!r} in the data file; tables: {", ".join(tables)}')
    return tables[key]


def _parse_label(text: str) -> Tuple[str, dict]:
    path, _, spec = text.partition('=')
    setting, _, kind = spec.partition(':')
    if not kind:
        raise ValueError(f'--label wants DIR=SETTING:TYPE (TYPE one of {", ".join(TYPE_ORDER)}), got {text!r}')
    return osp.normpath(path), dict(setting=setting, type=kind)


def build_table(work_dirs: Sequence[str], paper: Optional[str] = None, source: str = 'auto',
                labels: Sequence[str] = (), paper_file: Optional[str] = None) -> dict:
    """Rows of ours (mean over work dirs of the same setting, backbone, block type and variant), with the paper's
    beside when ``paper``."""
    table = paper_table(paper, paper_file) if paper else None
    settings = table['settings'] if table else {}
    overrides = dict(_parse_label(t) for t in labels)
    groups: Dict[Tuple[str, str, str, str], dict] = {}
    for wd in work_dirs:
        ident = identify(config_name(wd), settings)
        if osp.normpath(wd) in overrides:
            o = overrides[osp.normpath(wd)]
            ident.update(type=o['type'], setting=o['setting'])
        else:
            tok = ident['setting_token']
            ident['setting'] = settings.get(tok, tok or '-') if table else (tok or '-')
        if table and ident['type'] == 'baseline' and any(r['setting'] == '-' and r['type'] == 'baseline'
                                                          for r in table['rows']):
            ident['setting'] = '-'
        metrics, where = read_work_dir(wd, source, table['metrics'][0] if table else None)
        key = (ident['setting'], ident['backbone'], ident['type'], ident['variant'])
        g = groups.setdefault(key, dict(setting=ident['setting'], type=ident['type'], backbone=ident['backbone'],
                                        variant=ident['variant'], runs=[]))
        g['runs'].append(dict(work_dir=wd, source=where, metrics=metrics, split=split_of(wd)))
    for g in groups.values():
        _summarise(g)

    def order(g):
        return (g['backbone'], g['setting'], g['type'] != 'baseline',
                TYPE_ORDER.index(g['type']) if g['type'] in TYPE_ORDER else 99, g['variant'])

    if table:
        metrics = list(table['metrics'])
        scale = 100.0 if table.get('unit') == 'fraction' else 1.0
        rows = []
        for prow in table['rows']:
            paper_values = {m: prow[m] * scale for m in metrics if m in prow}
            # every reading (variant) of the row's block in our runs stands against the paper's one number
            ours = sorted((g for k, g in groups.items() if (k[0], k[2]) == (prow['setting'], prow['type'])), key=order)
            for g in ours:
                del groups[(g['setting'], g['backbone'], g['type'], g['variant'])]
                rows.append(dict(setting=prow['setting'], model=prow['model'] + _variant_label(g), type=prow['type'],
                                 variant=g['variant'], ours=g['ours'], std=g['std'], splits=g['splits'],
                                 runs=g['runs'], paper=paper_values))
            if not ours:
                rows.append(dict(setting=prow['setting'], model=prow['model'], type=prow['type'], variant='', ours={},
                                 std={}, splits=[], runs=[], paper=paper_values))
        for g in sorted(groups.values(), key=order):
            rows.append(dict(setting=g['setting'], model=_model_label(g), type=g['type'], variant=g['variant'],
                             ours=g['ours'], std=g['std'], splits=g['splits'], runs=g['runs'], paper={},
                             not_in_paper=True))
        return dict(table=str(paper), citation=table['citation'], caption=table['caption'], metrics=metrics,
                    unit='percent', rows=rows)
    metrics = sorted({k for g in groups.values() for k in g['ours']}, key=METRIC_ORDER.index)
    rows = [dict(setting=g['setting'], model=_model_label(g), type=g['type'], variant=g['variant'], ours=g['ours'],
                 std=g['std'], splits=g['splits'], runs=g['runs'], paper={})
            for g in sorted(groups.values(), key=order)]
    return dict(table=None, metrics=metrics, unit='percent', rows=rows)


def _variant_label(g: dict) -> str:
    return f' ({g["variant"].upper()})' if g['variant'] else ''


def _model_label(g: dict) -> str:
    if g['type'] == 'baseline':
        return BACKBONES.get(g['backbone'], g['backbone'])
    return LABELS.get(g['type'], '+ ' + g['type']) + _variant_label(g)


def _num(v, std=None) -> str:
    return '-' if v is None else f'{v:.2f}' + ('' if std is None else f' ± {std:.2f}')


def _splits_label(splits: Sequence[int]) -> str:
    return f', splits {",".join(map(str, splits))}' if splits else ''


def markdown(result: dict) -> str:
    """The table as markdown: setting | model | per metric: ours (and paper)."""
    paper = result.get('table') is not None
    head = ['setting', 'model']
    for m in result['metrics']:
        head += [f'{m} (%)'] + ([f'{m} paper (%)'] if paper else [])
    lines = []
    if paper:
        lines += [f'Paper values from {result["citation"]}', '']
    if any(r.get('std') for r in result['rows']):
        lines += ['Ours: mean ± sample standard deviation over the n runs of a row (with splits: the person splits '
                  'of iLIDS-VID / PRID2011).', '']
    lines += ['| ' + ' | '.join(head) + ' |', '| ' + ' | '.join(['---', '---'] + ['---:'] * (len(head) - 2)) + ' |']
    last_setting = None
    for r in result['rows']:
        setting = r['setting'] if r['setting'] != last_setting else ''
        last_setting = r['setting']
        n = len(r['runs'])
        count = f' (n={n}{_splits_label(r.get("splits", []))})' if n > 1 else ''
        model = r['model'] + count + (' (not in the paper)' if r.get('not_in_paper') else '')
        cells = [setting, model]
        for m in result['metrics']:
            cells.append(_num(r['ours'].get(m), r.get('std', {}).get(m)))
            if paper:
                cells.append(_num(r['paper'].get(m)))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot_table(result: dict, path: str) -> str:
    from .common import matplotlib_pyplot, save_figure
    plt = matplotlib_pyplot()
    m = result['metrics'][0] if result['metrics'] else None
    rows = result['rows']
    labels = [f'{r["setting"]} {r["model"]}'.strip('- ') for r in rows]
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(rows) + 2), 3.8))
    xs = range(len(rows))
    ours = [r['ours'].get(m, float('nan')) for r in rows]
    if result.get('table') is not None:
        ax.bar([x - 0.2 for x in xs], ours, width=0.4, label='ours')
        ax.bar([x + 0.2 for x in xs], [r['paper'].get(m, float('nan')) for r in rows], width=0.4, label='paper')
        ax.legend(fontsize=8)
    else:
        ax.bar(list(xs), ours, width=0.6)
    finite = [v for r in rows for v in (r['ours'].get(m), r['paper'].get(m)) if v is not None]
    if finite:
        lo, hi = min(finite), max(finite)
        ax.set_ylim(max(0.0, lo - 0.1 * (hi - lo + 1)), hi + 0.1 * (hi - lo + 1))
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=60, ha='right', fontsize=7)
    ax.set_ylabel(f'{m} (%)')
    return save_figure(fig, path)


def parse_args(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        description='Result table from work dirs in the layout of the paper\'s tables, with the paper\'s numbers '
        'beside ours (--paper TABLE), all in percent: top-1/top-5 of classification (accuracy/top1, percent) and '
        'video (mmaction2\'s acc/top1, a fraction), mIoU/fwIoU/aAcc of segmentation (mmseg, percent), mAP and CMC '
        'rank-1/5/10/20 of re-ID (reid/mAP, reid/rank1, ..., fractions). Rows: block type, grouped by setting and '
        'backbone; variants (re-ID\'s 3D readings -snl3d / -nl3d, segmentation\'s -snlhead) get rows of their own. '
        'Runs of one row are averaged (mean ± sample std); work dirs named split<N> (tools/reid_splits.py) are person '
        'splits, listed in the row. Writes <out-dir>/result_table[_<table>].{md,json,png}.')
    p.add_argument('work_dirs', nargs='+', help='work dirs of tools/train.py / tools/test.py runs (globs welcome)')
    p.add_argument('--paper', help='the paper\'s table to lay out by and show beside ours (2-15)')
    p.add_argument('--source', choices=('auto', 'test', 'last', 'best'), default='auto',
                   help='which metrics of a work dir: auto (latest test run, else last validation), test, last or '
                   'best validation')
    p.add_argument('--label', action='append', default=[], metavar='DIR=SETTING:TYPE',
                   help='override the setting and block type read from a work dir\'s config name')
    p.add_argument('--list-tables', action='store_true', help='list the paper tables in the data file and exit')
    p.add_argument('--out-dir', default='analysis')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    from .common import output_paths, save_json
    args = parse_args(argv)
    if args.list_tables:
        for k, t in load_paper_results()['tables'].items():
            print(f'{k}: {t["caption"]} ({", ".join(t["metrics"])})')
        return {}
    dirs = []
    for pattern in args.work_dirs:
        hits = sorted(h for h in glob.glob(pattern) if osp.isdir(h)) or [pattern]  # work dirs, not files beside
        dirs += [d for d in hits if d not in dirs]
    result = build_table(dirs, args.paper, args.source, args.label)
    stem = 'result_table' + (f'_{args.paper}' if args.paper else '')
    png, js = output_paths(args.out_dir, stem)
    text = markdown(result)
    with open(os.path.join(args.out_dir, stem + '.md'), 'w') as f:
        f.write(text)
    save_json(result, js)
    plot_table(result, png)
    print(text)
    print(f'wrote {png}, {js} and {os.path.join(args.out_dir, stem + ".md")}')
    return result
