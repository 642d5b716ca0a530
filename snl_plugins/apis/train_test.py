"""What ``tools/train.py`` and ``tools/test.py`` do, in the package so tests can reach it (``snl_plugins.apis``).

Follows OpenMMLab's own tools (mmpretrain / mmaction2 / mmseg 1.x): ``Config.fromfile``, ``--cfg-options`` through
``DictAction``, ``Runner.from_cfg``. The registry scope comes from the config's ``default_scope`` (``'mmengine'`` for our
classification configs; ``'mmaction'`` / ``'mmseg'`` register those libraries' modules, imported only then).
"""
from __future__ import annotations

import argparse
import logging
import os
import os.path as osp
from typing import Optional, Sequence

__all__ = ['parse_train_args', 'parse_test_args', 'setup_scope', 'train_cfg_from_args', 'test_cfg_from_args',
           'prepare_launcher', 'train', 'test']

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
AMP_DTYPES = ('bfloat16', 'float16')
AMP_WRAPPERS = ('AmpOptimWrapper', 'CPUAmpOptimWrapper')


def _common_args(parser: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='the directory to save logs and checkpoints '
                        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs, e.g. '
                        'train_dataloader.batch_size=32 "model.model.nl_at=[layer2.1]"; a list is "[a,b]" or "a,b"; '
                        'no white space inside a value unless quoted')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher (pytorch: torchrun)')
    parser.add_argument('--trust-checkpoint', action='append', default=[], metavar='PATH',
                        help='a checkpoint file or folder you trust to be fully unpickled (which can run code) where '
                        'it is not weights-only loadable; repeatable (snl_plugins.compat.checkpoint_trust)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_train_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with an mmengine config (classification, '
                                     'mmaction2 recognition, mmseg segmentation)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or with no value from the latest checkpoint in the '
                        'work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision training: with CUDA, mmengine\'s AmpOptimWrapper (autocast + '
                        'dynamic loss scaling); without, our CPUAmpOptimWrapper (CPU autocast, bfloat16 unless '
                        '--amp-dtype float16)')
    parser.add_argument('--amp-dtype', choices=AMP_DTYPES, default=None,
                        help='with --amp: the autocast dtype (default: bfloat16 on CPU, float16 on a GPU); float16 on '
                        'CPU also scales the loss with a gradient scaler (steps with inf/NaN gradients are skipped, '
                        'and counted in the log as skipped_steps)')
    parser.add_argument('--no-validate', action='store_true', help='do not evaluate during training')
    _common_args(parser)
    args = parser.parse_args(argv)
    if args.amp_dtype is not None and not args.amp:
        parser.error('--amp-dtype needs --amp')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def parse_test_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a checkpoint with an mmengine config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (a .pth saved by the Runner or a plain state dict)')
    parser.add_argument('--out', help='dump per-sample predictions to this pickle file (mmengine DumpResults)')
    _common_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def setup_scope(cfg) -> str:
    """Register our modules and the config's scope's modules; make ``default_scope`` the current scope."""
    import snl_plugins  # noqa: F401  (registers blocks and models, applies upstream workarounds)
    import snl_plugins.cls  # noqa: F401  (TimmClassifier, CIFAR10/100, CUB200, ImageFolder, Accuracy)
    from mmengine.registry import init_default_scope

    scope = cfg.get('default_scope', None) or 'mmengine'
    if scope == 'mmaction':
        from mmaction.utils import register_all_modules
        register_all_modules(init_default_scope=False)
    elif scope == 'mmseg':
        from mmseg.utils import register_all_modules
        register_all_modules(init_default_scope=False)
    init_default_scope(scope)
    return scope


def _load_cfg(args):
    from mmengine.config import Config
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def train_cfg_from_args(args):
    """The config a training run uses: the file, ``--cfg-options``, ``--work-dir``, ``--amp`` (``--amp-dtype``),
    ``--resume``."""
    cfg = _load_cfg(args)
    if args.amp:
        _enable_amp(cfg, getattr(args, 'amp_dtype', None))
    if isinstance(cfg.get('optim_wrapper', None), dict) and cfg.optim_wrapper.get('type') == 'CPUAmpOptimWrapper':
        _log_current_loss_scale(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if getattr(args, 'no_validate', False):
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    return cfg


def _enable_amp(cfg, dtype: Optional[str] = None) -> None:
    """``--amp``: as OpenMMLab's tools with CUDA (``AmpOptimWrapper``, dynamic loss scale); without CUDA our
    ``CPUAmpOptimWrapper`` (bfloat16 unless ``dtype='float16'``, which adds a dynamic gradient scaler). A config whose
    wrapper already is an AMP type is kept as it is."""
    import torch
    from mmengine.logging import print_log
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper in AMP_WRAPPERS:
        print_log(f'AMP training is already enabled in the config ({optim_wrapper}); it is kept as it is'
                  + (f' (--amp-dtype {dtype} is ignored)' if dtype else '') + '.',
                  logger='current', level=logging.WARNING)
        return
    assert optim_wrapper == 'OptimWrapper', (
        f'`--amp` is only supported when the optimizer wrapper type is `OptimWrapper`, got {optim_wrapper}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        if dtype is not None:
            cfg.optim_wrapper.dtype = dtype
    else:
        cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
        cfg.optim_wrapper.dtype = dtype or 'bfloat16'
        if cfg.optim_wrapper.dtype == 'float16':
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def _log_current_loss_scale(cfg) -> None:
    """mmengine's ``LogProcessor`` smooths every key that contains ``loss`` over its window, ``loss_scale`` too: log
    the scale of the iteration instead (``min`` over a window of 1; ``current`` takes no window, which the processor
    requires of custom keys when it counts iterations)."""
    log_processor = cfg.get('log_processor', None)
    if log_processor is None:
        cfg.log_processor = dict()
        log_processor = cfg.log_processor
    custom = list(log_processor.get('custom_cfg', None) or [])
    if not any(c.get('data_src') == 'loss_scale' or c.get('log_name') == 'loss_scale' for c in custom):
        log_processor['custom_cfg'] = custom + [dict(data_src='loss_scale', method_name='min', window_size=1)]


def test_cfg_from_args(args):
    cfg = _load_cfg(args)
    cfg.load_from = args.checkpoint
    if getattr(args, 'out', None):
        evaluator = cfg.test_evaluator
        dump = dict(type='DumpResults', out_file_path=args.out)
        if isinstance(evaluator, (list, tuple)):
            cfg.test_evaluator = list(evaluator) + [dump]
        elif isinstance(evaluator, dict) and 'metrics' in evaluator:
            evaluator['metrics'] = list(evaluator['metrics']) + [dump]
        else:
            cfg.test_evaluator = [evaluator, dump]
    return cfg


def prepare_launcher(cfg) -> None:
    """Distributed runs without CUDA (``--launcher pytorch`` on CPU, gloo backend).

    mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)`` unconditionally, which fails
    on a machine without a GPU, and wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, which DDP refuses for a
    CPU module. Without CUDA we therefore open the process group here (mmengine then skips its own ``init_dist``) and
    default the wrapper's ``device_ids`` to ``None``. With CUDA nothing changes.
    """
    import torch
    import torch.distributed as dist
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    env_cfg = cfg.get('env_cfg', None) or {}
    dist_cfg = dict(env_cfg.get('dist_cfg', None) or {})
    backend = dist_cfg.pop('backend', 'gloo')
    if backend == 'nccl':
        backend = 'gloo'  # nccl needs GPUs
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, **dist_cfg)
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters', False))
    else:
        wrapper.setdefault('device_ids', None)


def _trusting(args):
    """The context in which the run loads checkpoints: trusting exactly what ``--trust-checkpoint`` names."""
    from ..compat import trusted_checkpoints
    return trusted_checkpoints(*args.trust_checkpoint)


def _build_runner(cfg):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    setup_scope(cfg)
    prepare_launcher(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def _close_dist() -> None:
    """Leave the process group cleanly (mmengine does not), so no rank exits while gloo/nccl threads still run."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def train(argv: Optional[Sequence[str]] = None):
    """``tools/train.py``: returns the trained model."""
    args = parse_train_args(argv)
    cfg = train_cfg_from_args(args)
    with _trusting(args):
        runner = _build_runner(cfg)
        model = runner.train()
    _close_dist()
    return model


def test(argv: Optional[Sequence[str]] = None) -> dict:
    """``tools/test.py``: returns the metrics."""
    args = parse_test_args(argv)
    cfg = test_cfg_from_args(args)
    with _trusting(args):
        runner = _build_runner(cfg)
        metrics = runner.test()
    _close_dist()
    return metrics
