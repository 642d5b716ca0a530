"""What every analysis tool shares: loading a model from a config and a checkpoint, a data loader over a split,
one forward the way the model's own ``test_step`` feeds it, block selection, progress bars and output files."""
from __future__ import annotations

import fnmatch
import json
import os
import os.path as osp
import sys
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple

import torch
from torch import nn

__all__ = ['load_model', 'build_loader', 'iterate_batches', 'forward_batch', 'select_blocks', 'progress',
           'save_json', 'output_paths', 'block_type', 'to_jsonable', 'input_layout', 'LAYOUTS',
           'whole_network_kwargs']

# How one sample's network input is laid out, by host family (what the data pipeline packs and the model's forward
# takes); the per-sample shape a user gives (complexity's --input-shape) is in this order.
LAYOUTS = {
    'image': 'C x H x W (classification, segmentation)',
    'video': 'clips x C x T x H x W (mmaction2 3D recognizers; NCTHW)',
    'frames': 'clips*T x C x H x W (mmaction2 2D recognizers, e.g. VTN; NCHW)',
    'tracklet': 'clips x T x C x H x W (re-ID RTM; a tracklet is cut into clips of T frames)',
}


def load_model(config: str, checkpoint: Optional[str] = None, cfg_options: Optional[dict] = None,
               device: str = 'cpu') -> Tuple[nn.Module, 'Config']:  # noqa: F821
    """Build ``cfg.model`` under the config's default scope and load ``checkpoint`` (a Runner checkpoint or a plain
    state dict) into it; returns ``(model in eval mode, cfg)``."""
    import snl_plugins  # noqa: F401  (registers blocks and models, fixes checkpoint loading)
    from mmengine.config import Config
    from mmengine.registry import MODELS
    from mmengine.runner import load_checkpoint

    from ..apis import setup_scope
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config file not found: {config}')
    if checkpoint is not None and not osp.isfile(checkpoint):  # before the (slow) build
        raise FileNotFoundError(f'Checkpoint not found: {checkpoint}')
    cfg = Config.fromfile(config)
    if checkpoint is not None:
        skip_initial_weights(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    setup_scope(cfg)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval(), cfg


def skip_initial_weights(cfg) -> None:
    """Do not load the initial weights a config names at build time (the ImageNet file of the CUB-200 classifiers,
    ``model.model.pretrained``, and of the re-ID RTM, ``model.pretrained``) where a checkpoint will replace them: the
    file need not exist on the machine that analyses a trained model. Weights loaded by ``init_weights`` (video,
    segmentation) are never loaded here anyway."""
    model = cfg.get('model', None)
    if model is None:
        return
    if model.get('type') == 'TimmClassifier' and model.get('model', {}).get('pretrained'):
        model.model.pretrained = False
    elif model.get('type') == 'RTM' and model.get('pretrained'):
        model.pretrained = None


def build_loader(cfg, split: str = 'test', batch_size: Optional[int] = None):
    """The config's ``<split>_dataloader`` (split: train / val / test) with no worker processes."""
    import copy

    from mmengine.runner import Runner
    key = f'{split}_dataloader'
    if cfg.get(key, None) is None:
        raise KeyError(f'the config has no {key}')
    loader_cfg = copy.deepcopy(cfg[key])
    loader_cfg['num_workers'] = 0
    loader_cfg['persistent_workers'] = False
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    sampler = loader_cfg.get('sampler', None)
    if isinstance(sampler, dict) and 'shuffle' in sampler:
        sampler['shuffle'] = False
    return Runner.build_dataloader(loader_cfg)


def iterate_batches(loader, num_samples: Optional[int] = None) -> Iterator[Tuple[dict, int]]:
    """``(data_batch, samples in it)`` until ``num_samples`` samples (all when None); the last batch is cut."""
    seen = 0
    for batch in loader:
        n = batch_size_of(batch)
        if num_samples is not None and seen + n > num_samples:
            batch, n = cut_batch(batch, num_samples - seen), num_samples - seen
        if n <= 0:
            break
        yield batch, n
        seen += n
        if num_samples is not None and seen >= num_samples:
            break


def batch_size_of(batch) -> int:
    inputs = batch['inputs'] if isinstance(batch, dict) else batch[0]
    return inputs.shape[0] if torch.is_tensor(inputs) else len(inputs)


def cut_batch(batch, n: int):
    if isinstance(batch, dict):
        return {k: (v[:n] if (torch.is_tensor(v) or isinstance(v, (list, tuple))) else v) for k, v in batch.items()}
    return type(batch)(v[:n] for v in batch)


def preprocess(model: nn.Module, batch) -> dict:
    """The model's data preprocessor applied as in ``test_step`` (normalisation, stacking, to the device)."""
    pre = getattr(model, 'data_preprocessor', None)
    if pre is None:
        inputs = batch['inputs'] if isinstance(batch, dict) else batch
        return dict(inputs=inputs)
    return pre(batch, False)


def whole_network_kwargs(model: nn.Module) -> dict:
    """Keyword arguments that make the tensor-mode forward run the whole network: mmaction2 recognizers stop after
    the backbone unless asked for the head (where VTN's blocks are)."""
    return dict(stage='head') if input_layout(model) in ('video', 'frames') else {}


@torch.no_grad()
def forward_batch(model: nn.Module, batch) -> dict:
    """One forward (``mode='tensor'``, what mmengine models of every library accept) through the whole network;
    returns the preprocessed data (``inputs`` as the network saw them)."""
    data = preprocess(model, batch)
    kwargs = whole_network_kwargs(model)
    if isinstance(data, dict):
        model(**data, mode='tensor', **kwargs)
    else:
        model(*data, mode='tensor', **kwargs)
        data = dict(inputs=data[0])
    return data


def input_layout(model: nn.Module) -> str:
    """The key of :data:`LAYOUTS` for ``model``."""
    # a model of a family exists only once its module is imported: look there rather than import mmaction2 / timm
    reid = sys.modules.get('snl_plugins.reid.model')
    if reid is not None and isinstance(model, reid.RTM):
        return 'tracklet'
    recognizers = sys.modules.get('mmaction.models.recognizers.base')
    if recognizers is not None and isinstance(model, recognizers.BaseRecognizer):
        frames = getattr(model.data_preprocessor, 'format_shape', None) == 'NCHW'
        return 'frames' if frames else 'video'
    return 'image'


def block_type(module: nn.Module) -> str:
    """'SNL', 'gSNL', 'NL', 'NS', 'A2', 'CGNL', or 'SP<k>-<unit>' for a stage of k units."""
    units = getattr(module, 'units', None)
    if units is not None and hasattr(module, 'unit_type'):
        return f'SP{len(units)}-{module.unit_type}'
    return type(module).__name__


def select_blocks(model: nn.Module, patterns: Optional[Sequence[str]] = None) -> Dict[str, nn.Module]:
    """The model's non-local blocks / stages by qualified name, filtered by ``patterns`` (fnmatch patterns or
    substrings of the name; an integer selects by position). Raises when the model has none or none match."""
    from ..blocks import nonlocal_modules
    blocks = nonlocal_modules(model)
    if not blocks:
        raise ValueError(f'{type(model).__name__} has no non-local block (SNL, gSNL, NL, NS, A2, CGNL, '
                         'NonlocalStage)')
    if not patterns:
        return blocks
    names = list(blocks)
    chosen = []
    for p in patterns:
        if p.lstrip('-').isdigit():
            hit = [names[int(p)]]
        else:
            hit = [n for n in names if fnmatch.fnmatch(n, p) or p in n]
        if not hit:
            raise ValueError(f'no non-local block matches {p!r}; the model has: {", ".join(names)}')
        chosen += [n for n in hit if n not in chosen]
    return {n: blocks[n] for n in chosen}


class _Bar:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled and total > 0:
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            for _ in range(n):
                self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.file.write('\n')
            self.bar.file.flush()


def progress(total: int, enabled: bool = True) -> _Bar:
    """mmengine's ``ProgressBar`` over ``total`` steps (a no-op when disabled)."""
    return _Bar(total, enabled)


def to_jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if torch.is_tensor(obj):
        return to_jsonable(obj.tolist())
    if hasattr(obj, 'tolist'):  # numpy
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def save_json(obj, path: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(to_jsonable(obj), f, indent=1)
    return path


def output_paths(out_dir: str, stem: str) -> Tuple[str, str]:
    """``(<out_dir>/<stem>.png, <out_dir>/<stem>.json)``, creating the directory."""
    os.makedirs(out_dir, exist_ok=True)
    return osp.join(out_dir, stem + '.png'), osp.join(out_dir, stem + '.json')


def safe_name(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)


def save_figure(fig, path: str) -> str:
    """Lay out, write (PNG at 100 dpi) and close ``fig``; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    matplotlib_pyplot().close(fig)
    return path


def matplotlib_pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def parse_cfg_options(values: Optional[Iterable[str]]) -> Optional[dict]:
    """``key=value`` strings as mmengine's ``DictAction`` reads them."""
    if not values:
        return None
    from mmengine.config import DictAction
    out = {}
    for kv in values:
        key, val = kv.split('=', 1)
        out[key] = DictAction._parse_iterable(val)
    return out
