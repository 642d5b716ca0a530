"""The 10-split protocol of iLIDS-VID and PRID2011 from one command (``tools/reid_splits.py``).

The standard protocol of both data sets (Wang et al. 2014; Gao & Nevatia 2018) trains and tests on 10 random person
splits (half the persons train, half test) and reports CMC and mAP averaged over the splits. For every split asked,
:func:`main` runs ``tools/train.py`` and then ``tools/test.py`` in a fresh process each, in ``<work_dir>/split<N>``,
with ``--cfg-options`` selecting split N in the train, val and test data sets; it then averages the test results
(:mod:`snl_plugins.analysis.tables`: mean and sample standard deviation over the splits) into
``<work_dir>/splits_summary.{md,json}``. ``tools/analysis/result_table.py <work_dir>/split*`` gives the same table
later, with ``--paper 12`` / ``--paper 13`` the paper's numbers beside it.

Before any run the split file is made (or read back and checked) once, in the parent process: every split run then
reads the same file (:meth:`~snl_plugins.reid.datasets.iLIDSVID.prepare_splits`: iLIDS-VID's from the official
``train_test_splits_ilidsvid.mat`` when present, else a permutation seeded by the data set's ``split_seed``; torchreid's
JSON format, the file the data sets read).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import re
import subprocess
import sys
from typing import List, Optional, Sequence

__all__ = ['parse_split_ids', 'split_options', 'prepare_split_file', 'find_checkpoint', 'split_work_dir', 'main']

# the data loaders whose data set takes the split (val and test are the test persons of the same split)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
CHECKPOINTS = ('last', 'best')


def parse_split_ids(text: str) -> List[int]:
    """``'0-9'``, ``'0,3,5'`` or ``'0-2,7'`` -> sorted distinct split numbers.

    Raises:
        ValueError: a part that is not a number or a range ``a-b`` with ``a <= b``.
    """
    ids = set()
    for part in (p.strip() for p in str(text).split(',')):
        m = re.fullmatch(r'(\d+)(?:-(\d+))?', part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise ValueError(f'--splits: {part!r} in {text!r} is neither a split number nor a range like 0-9')
        ids.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return sorted(ids)


def split_options(split_id: int) -> List[str]:
    """The ``--cfg-options`` that select person split ``split_id`` in every data loader of a re-ID config."""
    return [f'{loader}.dataset.split_id={int(split_id)}' for loader in LOADERS]


def split_work_dir(work_dir: str, split_id: int) -> str:
    """A split's work dir (:func:`snl_plugins.analysis.tables.split_of` reads the number back)."""
    return osp.join(work_dir, f'split{int(split_id)}')


def prepare_split_file(cfg, split_ids: Sequence[int]) -> str:
    """Make (or read back) the split file of ``cfg``'s training data set and check every split asked.

    Args:
        cfg: the mmengine config of the runs (with their ``--cfg-options`` merged).
        split_ids: the splits to be run.

    Returns:
        The split file's path.

    Raises:
        ValueError: the data set has no person splits (Mars), or the file has too few splits or a bad one (the
            data set's own errors, naming the file).
    """
    import snl_plugins.reid  # noqa: F401  (registers the data sets)
    from mmengine.registry import DATASETS

    from .datasets import _TwoCameraDataset
    dataset = dict(cfg.train_dataloader.dataset)
    cls = DATASETS.get(dataset.get('type'))
    if cls is None or not issubclass(cls, _TwoCameraDataset):
        raise ValueError(f'the training data set of this config is {dataset.get("type")!r}, which has no person '
                         'splits; the 10-split protocol is for iLIDSVID and PRID2011 (Mars has one fixed '
                         'train / test partition: use tools/train.py and tools/test.py)')
    path = None
    for split_id in split_ids:
        ds = DATASETS.build(dict(dataset, split_id=int(split_id), lazy_init=True))
        ds.prepare_splits()
        path = ds.split_file
    return path


def find_checkpoint(work_dir: str, which: str) -> str:
    """The checkpoint of a finished training run to test: ``'last'`` (what mmengine's ``last_checkpoint`` names) or
    ``'best'`` (the one ``best_*.pth``; selected on the test persons, as Gao & Nevatia's code reports).

    Raises:
        FileNotFoundError: there is none, naming the work dir.
    """
    if which == 'last':
        marker = osp.join(work_dir, 'last_checkpoint')
        if osp.isfile(marker):
            with open(marker) as f:
                path = f.read().strip()
            if osp.isfile(path):
                return path
        raise FileNotFoundError(f'no last checkpoint in {work_dir} (its last_checkpoint file is missing or names a '
                                'file that does not exist): did training finish?')
    import glob
    best = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')))
    if len(best) != 1:
        raise FileNotFoundError(f'expected one best_*.pth in {work_dir} (the config must keep the best checkpoint, '
                                f'save_best=...), found {len(best)}: {best}')
    return best[0]


def _has_test_result(work_dir: str) -> bool:
    from ..analysis.tables import read_work_dir
    try:
        read_work_dir(work_dir, 'test')
    except FileNotFoundError:
        return False
    return True


def _run(cmd: List[str], what: str) -> None:
    print('+ ' + ' '.join(cmd), flush=True)
    rc = subprocess.run(cmd).returncode
    if rc != 0:
        raise RuntimeError(f'{what} failed (exit status {rc}); its log is above and in its work dir')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Train and test a re-ID config on several person splits of iLIDS-VID / PRID2011 (the '
        'standard 10-split protocol), one tools/train.py + tools/test.py run per split in <work-dir>/split<N>, then '
        'the CMC / mAP averaged over the splits (mean and sample std) in <work-dir>/splits_summary.{md,json}.')
    p.add_argument('config', help='a re-ID config whose data set is iLIDSVID or PRID2011')
    p.add_argument('--splits', default='0-9', help='split numbers: 0-9 (default), 0,3,5 or 0-2,7')
    p.add_argument('--work-dir', help='parent of the split<N> work dirs (default: work_dirs/<config name>)')
    p.add_argument('--checkpoint', choices=CHECKPOINTS, default='last',
                   help='which checkpoint of each split to test: last (default; no choice made on the test persons) '
                   'or best (the best validation mAP, validated on the test persons as in Gao & Nevatia\'s code)')
    p.add_argument('--resume', action='store_true',
                   help='skip splits that already have a test result; resume unfinished training runs')
    p.add_argument('--no-validate', action='store_true', help='no validation during training (tools/train.py)')
    p.add_argument('--nproc-per-node', type=int, default=1,
                   help='processes per split run (> 1: torch.distributed.run with --launcher pytorch)')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='passed to tools/train.py and tools/test.py of every split (after the split selection)')
    p.add_argument('--trust-checkpoint', action='append', default=[], metavar='PATH',
                   help='passed to tools/train.py and tools/test.py (see there)')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None, train_script: Optional[str] = None,
         test_script: Optional[str] = None) -> dict:
    """The command line (see the module docstring); returns the summary table (:func:`tables.build_table`).

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        train_script, test_script: ``tools/train.py`` / ``tools/test.py`` (default: beside the repository's
            ``tools/reid_splits.py``).
    """
    from mmengine.config import Config

    from ..analysis import tables
    from ..analysis.common import parse_cfg_options
    args = parse_args(argv)
    tools = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')
    train_script = train_script or osp.join(tools, 'train.py')
    test_script = test_script or osp.join(tools, 'test.py')
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    split_ids = parse_split_ids(args.splits)
    work_dir = args.work_dir or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])

    cfg = Config.fromfile(args.config)
    if args.cfg_options:  # parsed as tools/train.py parses them, to build the data set the runs will use
        cfg.merge_from_dict(parse_cfg_options(args.cfg_options))
    split_file = prepare_split_file(cfg, split_ids)
    print(f'person splits {split_ids} of {split_file}', flush=True)

    python = [sys.executable]
    if args.nproc_per_node > 1:
        python += ['-m', 'torch.distributed.run', f'--nproc_per_node={args.nproc_per_node}']
    launcher = ['--launcher', 'pytorch'] if args.nproc_per_node > 1 else []
    trust = [a for path in args.trust_checkpoint for a in ('--trust-checkpoint', path)]
    dirs = []
    for split_id in split_ids:
        wd = split_work_dir(work_dir, split_id)
        dirs.append(wd)
        if args.resume and _has_test_result(wd):
            print(f'split {split_id}: tested already ({wd}), skipped', flush=True)
            continue
        options = ['--cfg-options'] + split_options(split_id) + list(args.cfg_options)
        resume = ['--resume'] if args.resume and osp.isfile(osp.join(wd, 'last_checkpoint')) else []
        _run(python + [train_script, args.config, '--work-dir', wd] + resume
             + (['--no-validate'] if args.no_validate else []) + launcher + trust + options,
             f'split {split_id}: training')
        ckpt = find_checkpoint(wd, args.checkpoint)
        _run(python + [test_script, args.config, ckpt, '--work-dir', wd] + launcher + trust + options,
             f'split {split_id}: testing {ckpt}')
    result = tables.build_table(dirs, source='test')
    result['split_file'] = split_file
    text = tables.markdown(result)
    with open(osp.join(work_dir, 'splits_summary.md'), 'w') as f:
        f.write(text)
    with open(osp.join(work_dir, 'splits_summary.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(text)
    print(f'wrote {osp.join(work_dir, "splits_summary.md")} and {osp.join(work_dir, "splits_summary.json")}')
    return result
