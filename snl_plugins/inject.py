"""Inserting non-local blocks into any ``nn.Module`` by dotted path, without renaming the host's parameters.

``insert_nonlocal(model, [dict(type='SNL', at='layer3.-1', position='before', reduction=2)])`` puts an SNL block
right before the last child of ``model.layer3``. Where the target sits in an ``nn.Sequential`` (ResNet stages in
timm, torchvision, mmaction2 and mmseg) the block becomes a sibling in the parent's running order, under a new
name (``layer3.snl_before_5``); anywhere else it becomes a child of the target and runs from a forward (pre-)hook.
Either way the host's own parameter names are unchanged, so a checkpoint of the plain host loads into the
injected model with only the blocks reported missing, and the blocks are ordinary submodules for
``state_dict``, DDP and ``torch.compile``.

``inject_nonlocal``, registered as ``InjectNonlocal`` in mmengine's root ``MODELS`` by ``snl_plugins.engine``, does
the same from a config:
``dict(type='InjectNonlocal', module=<host cfg>, blocks=[dict(type='SNL', at='layer3.-1'), ...])``.
"""
import difflib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .blocks import BLOCKS

POSITIONS = ('before', 'after')
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_CONV_DIMS = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
_CONVS = tuple(_CONV_DIMS)


def _child_keys(module: nn.Module) -> List[str]:
    return list(module._modules.keys())


def _did_you_mean(close: Sequence[str]) -> str:
    return f' Did you mean {" or ".join(repr(c) for c in close)}?' if close else ''


def _describe_children(module: nn.Module, prefix: str) -> str:
    keys = _child_keys(module)
    if not keys:
        return f'{prefix or "the model"} has no submodules'
    shown = ', '.join((f'{prefix}.{k}' if prefix else k) for k in keys[:12])
    more = f', ... ({len(keys)} in all)' if len(keys) > 12 else ''
    return f'the submodules of {prefix or "the model"} are: {shown}{more}'


def resolve_path(model: nn.Module, path: str) -> Tuple[nn.Module, str, nn.Module]:
    """``(parent, key, target)`` for a dotted path; integer parts index children (negative from the end)."""
    if not isinstance(path, str) or not path:
        raise ValueError(f'an insertion path must be a non-empty dotted string like "layer3.-1", got {path!r}')
    parent, key, module, walked = None, None, model, ''
    for part in path.split('.'):
        keys = _child_keys(module)
        if part in module._modules:
            child_key = part
        elif part.lstrip('-').isdigit():
            index = int(part)
            if not -len(keys) <= index < len(keys):
                raise ValueError(f'index {index} in "{path}" is out of range: {walked or "the model"} has '
                                 f'{len(keys)} submodules (0 to {len(keys) - 1}, or -1 to -{len(keys)} from the '
                                 f'end); {_describe_children(module, walked)}')
            child_key = keys[index]
        else:
            hint = _did_you_mean(difflib.get_close_matches(part, keys, n=3))
            raise ValueError(f'no submodule "{part}" in {walked or "the model"} (path "{path}"); '
                             f'{_describe_children(module, walked)}.{hint}')
        parent, key, module = module, child_key, module._modules[child_key]
        walked = f'{walked}.{child_key}' if walked else child_key
        if module is None:
            raise ValueError(f'"{walked}" (path "{path}") is None in this model, not a module')
    return parent, key, module


def _conv_dim(conv: nn.Module) -> int:
    return next(d for cls, d in _CONV_DIMS.items() if isinstance(conv, cls))  # subclasses too (mmcv's wrappers)


# Leaves that keep the channel count (and so cannot make the layers' count wrong in a chain of them).
_CHANNEL_KEEPING = (nn.Identity, nn.modules.dropout._DropoutNd, nn.modules.pooling._MaxPoolNd,
                    nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd,
                    nn.modules.pooling._AdaptiveMaxPoolNd, nn.Upsample)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm)


def _runs_in_registration_order(target: nn.Module) -> bool:
    """Whether ``target`` is a chain whose layers run in the order they were registered and whose channels its
    convolutions and norms alone set: a convolution or norm, or ``nn.Sequential`` of such chains, activations,
    pooling, dropout and identities. For anything else the layers' order says nothing certain."""
    if isinstance(target, nn.Sequential):
        return all(_runs_in_registration_order(child) for child in target.children())
    if isinstance(target, (*_CONVS, *_NORMS, *_CHANNEL_KEEPING)):
        return True
    return type(target).__module__ == 'torch.nn.modules.activation' and not isinstance(target, nn.MultiheadAttention)


def _infer_from_attributes(target: nn.Module, position: str) -> Optional[Tuple[int, int]]:
    """(channels, dim) of the tensor entering (before) or leaving (after) ``target``, read from its layers in the
    order they were registered (certain only where :func:`_runs_in_registration_order`)."""
    convs = [m for m in target.modules() if isinstance(m, _CONVS)]
    if not convs:
        return None
    dim = _conv_dim(convs[0])
    if position == 'before':
        return convs[0].in_channels, dim
    # after: the last layer that sets the channel count (a norm after the last conv, or the conv itself)
    last = None
    for m in target.modules():
        if isinstance(m, _CONVS):
            last = m.out_channels
        elif isinstance(m, _NORMS):
            last = getattr(m, 'num_features', None) or getattr(m, 'num_channels', None)
    return (last, dim) if last else None


# The probe input made up when no ``input_shape`` is given: small, spatially divisible by the 32x downsampling of
# the usual backbones; 8 images in 2D, as frame-wise video hosts (TSM) fold clips of up to 8 segments into the
# batch; 16 frames in 3D, as temporal pooling (P3D, SlowFast's slow path) needs a few left.
_PROBE_SHAPE = {1: (1, 64), 2: (8, 64, 64), 3: (1, 16, 64, 64)}


def _default_probe_shapes(model: nn.Module, tries: int = 3) -> List[Tuple[int, ...]]:
    """B x C x spatial inputs to try for a probe forward (``_PROBE_SHAPE``): C and dim of the model's first
    ``tries`` distinct convolutions in registration order (a forward usually starts with the first; a wrong one
    fails at once)."""
    shapes = []
    for m in model.modules():
        if isinstance(m, _CONVS):
            batch, *spatial = _PROBE_SHAPE[_conv_dim(m)]
            shape = (batch, m.in_channels, *spatial)
            if shape not in shapes:
                shapes.append(shape)
            if len(shapes) == tries:
                break
    return shapes


def _probe(model: nn.Module, targets: Dict[str, Tuple[nn.Module, str]], input_shape: Sequence[int]):
    """Run ``model`` once on zeros of ``input_shape`` and record the tensor at each target (in eval, no grad)."""
    seen = {}
    hooks = []
    for path, (target, position) in targets.items():
        if position == 'before':
            hooks.append(target.register_forward_pre_hook(
                lambda m, args, path=path: seen.setdefault(path, args[0] if args else None)))
        else:
            hooks.append(target.register_forward_hook(
                lambda m, args, out, path=path: seen.setdefault(path, out)))
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.zeros(tuple(input_shape), device=param.device if param is not None else 'cpu',
                        dtype=param.dtype if param is not None and param.is_floating_point() else None)
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return seen


class _RunBlock:
    """Forward (pre-)hook running an inserted block; an object rather than a closure so that ``copy.deepcopy``
    of the host (EMA, model soups) maps it to the copied block."""

    def __init__(self, block: nn.Module, position: str, path: str):
        self.block, self.position, self.path = block, position, path

    def _apply(self, x):
        if not torch.is_tensor(x):
            raise ValueError(f'the block {self.position} "{self.path}" needs a tensor there, but the module '
                             f'{"receives" if self.position == "before" else "returns"} {type(x).__name__}; '
                             'choose a path to a module with a single tensor input / output')
        return self.block(x)

    def __call__(self, module, args, output=None):
        if self.position == 'before':
            return (self._apply(args[0]),) + tuple(args[1:])
        return self._apply(output)


def _block_name(cfg: dict, position: str, key: str, existing: Sequence[str]) -> str:
    base = f'{str(cfg.get("unit", cfg["type"])).lower()}_{position}_{key}'.replace('.', '_')
    name, i = base, 1
    while name in existing:
        i += 1
        name = f'{base}_{i}'
    return name


def _registry_build(type_name):
    """mmengine's ``MODELS.build`` (the current scope's registry) for a type that is not one of our blocks."""
    try:
        from mmengine.registry import MODELS
    except ImportError:
        raise ValueError(f'unknown block type {type_name!r}: expected one of {", ".join(BLOCKS)} (other types are '
                         'built by mmengine\'s MODELS registry, and mmengine is not installed)') from None
    return MODELS.build


def build_block(cfg: dict, in_channels: int, dim: int) -> nn.Module:
    """A block from its config (``type`` one of our blocks, or any module registered in ``MODELS``)."""
    cfg = dict(cfg)
    cfg.setdefault('in_channels', in_channels)
    cfg.setdefault('dim', dim)
    num = cfg.pop('num_blocks', 1)
    if num < 1:
        raise ValueError(f'num_blocks must be >= 1, got {num}')
    type_name = cfg['type']
    if type_name in BLOCKS:
        blocks = [BLOCKS[type_name](**{k: v for k, v in cfg.items() if k != 'type'}) for _ in range(num)]
    else:
        build = _registry_build(type_name)
        try:
            blocks = [build(dict(cfg)) for _ in range(num)]
        except KeyError as error:  # the registry's bare "'snl' is not in the model registry"
            hint = _did_you_mean([b for b in BLOCKS if b.lower() == str(type_name).lower()]
                                 or difflib.get_close_matches(str(type_name), list(BLOCKS), n=2))
            raise ValueError(f'unknown block type {type_name!r}: not one of {", ".join(BLOCKS)} and not in '
                             f'mmengine\'s MODELS ({error}).{hint}') from None
    return blocks[0] if num == 1 else nn.Sequential(*blocks)


def _check_hook_target(parent: nn.Module, target: nn.Module, position: str, path: str, walked: str) -> None:
    """Refuse targets where a block could not run from a hook (checked before anything is changed)."""
    if isinstance(parent, nn.Sequential):
        return
    if isinstance(target, (nn.ModuleList, nn.ModuleDict)):
        raise ValueError(f'cannot insert {position} "{path}": it is a {type(target).__name__}, which its owner '
                         f'iterates but never calls, so a block there would never run; choose one of its items: '
                         f'{_describe_children(target, walked)}')
    if isinstance(target, _CONTAINERS) and isinstance(parent, _CONTAINERS):
        raise ValueError(f'cannot insert {position} "{path}": it is a container inside a container; choose one '
                         f'of its submodules instead: {_describe_children(target, walked)}')


def _attach(parent: nn.Module, key: str, target: nn.Module, position: str, block: nn.Module, name: str,
            path: str) -> str:
    """Put ``block`` before / after ``target``; returns where it now lives (a path relative to ``parent``)."""
    if isinstance(parent, nn.Sequential):
        items = list(parent._modules.items())
        index = next(i for i, (k, m) in enumerate(items) if k == key)
        items.insert(index if position == 'before' else index + 1, (name, block))
        parent._modules.clear()
        parent._modules.update(items)
        return name
    if isinstance(target, _CONTAINERS):  # a Sequential (see _check_hook_target); its own children would run
        owner, owner_name = parent, name
    else:
        owner, owner_name = target, name
    owner.add_module(owner_name, block)
    hook = _RunBlock(block, position, path)
    if position == 'before':
        target.register_forward_pre_hook(hook)
    else:
        target.register_forward_hook(hook)
    return owner_name if owner is parent else f'{key}.{owner_name}'


def insert_nonlocal(model: nn.Module, blocks: Sequence[dict], input_shape: Optional[Sequence[int]] = None
                    ) -> Dict[str, nn.Module]:
    """Insert blocks into ``model`` in place; returns ``{qualified name: block}`` of what was inserted.

    Each entry of ``blocks`` is a config: ``type`` (SNL, gSNL, NL, NS, A2, CGNL, NonlocalStage, or any module type
    in mmengine's MODELS taking ``in_channels`` and ``dim``), ``at`` (a dotted path, negative indices from the end),
    ``position`` ('before' or 'after', default 'before'), optional ``num_blocks`` (independent blocks in a row) and
    the block's own arguments. ``in_channels`` and ``dim``, unless the config sets them, come from one forward on
    zeros of ``input_shape`` (B x C x ...), or where none is given of 8 x C x 64 x 64 (1 x C x 64 / 1 x C x 16 x 64 x
    64 in 1D / 3D; C from the model's first convolution): the tensor each block will see, in the order the host
    runs its layers.
    Where that forward cannot run or does not reach the target, they are read from the target's layers only if those
    run in the order they were registered (a convolution, a norm, or an ``nn.Sequential`` chain of them, activations
    and pooling); otherwise the insertion is refused, naming why the forward failed.
    Paths are all resolved on the model as it was passed, so several insertions do not shift each other.
    """
    if isinstance(blocks, dict):
        blocks = [blocks]
    plans = []
    names = {id(m): n for n, m in model.named_modules()}
    for i, spec in enumerate(blocks):
        cfg = dict(spec)
        if 'type' not in cfg or 'at' not in cfg:
            raise ValueError(f'block {i} needs a "type" and an "at" (dotted path), got {spec}')
        at, position = cfg.pop('at'), cfg.pop('position', 'before')
        if position not in POSITIONS:
            raise ValueError(f'unknown position {position!r} for "{at}"; expected "before" or "after"')
        parent, key, target = resolve_path(model, at)
        _check_hook_target(parent, target, position, at, names.get(id(target), at))
        plans.append((cfg, at, position, parent, key, target))

    # keyed by (path, position): the tensors before and after one module can differ
    need_probe = {(at, position): (target, position) for cfg, at, position, _, _, target in plans
                  if not ('in_channels' in cfg and 'dim' in cfg)}
    probed, probe_failure = {}, None
    if need_probe and input_shape is not None:
        probed = _probe(model, need_probe, input_shape)
        probe_failure = f'the forward on zeros of {tuple(input_shape)} did not run it'
    elif need_probe:
        failures = []
        for shape in _default_probe_shapes(model):
            try:
                probed = _probe(model, need_probe, shape)
                probe_failure = f'the probe forward on zeros of {shape} did not run it'
                break
            except Exception as error:  # a made-up input the host does not take
                failures.append(f'{shape} failed ({type(error).__name__}: {str(error)[:200]})')
        else:
            probe_failure = ('a probe forward on zeros of ' + '; of '.join(failures) if failures
                             else 'no probe forward could be made up (the model has no convolution)')

    # every block is built before any goes in: channels are read from the host as passed (a block attached to a
    # target, hook path, would otherwise be read as one of its layers), and a bad config leaves the host unchanged
    built = []
    for cfg, at, position, parent, key, target in plans:
        if (at, position) in probed:
            t = probed[(at, position)]
            if not torch.is_tensor(t) or not 3 <= t.dim() <= 5:
                desc = f'a {t.dim()}-D tensor' if torch.is_tensor(t) else type(t).__name__
                raise ValueError(f'"{at}" {"receives" if position == "before" else "returns"} {desc}; a block needs '
                                 f'a B x C x L, B x C x H x W or B x C x T x H x W tensor there. '
                                 f'{_describe_children(parent, names.get(id(parent), ""))}')
            io = (t.shape[1], t.dim() - 2)
        elif 'in_channels' in cfg and 'dim' in cfg:
            io = (cfg['in_channels'], cfg['dim'])
        else:
            # no forward reached the target: its layers tell the channels only where they run in the order they
            # were registered; a guess from any other module would be silently wrong when its forward reorders them
            io = _infer_from_attributes(target, position)
            if io is None or not _runs_in_registration_order(target):
                what = ('its layers' if io is None
                        else f'its layers ({type(target).__name__} runs them in an order only its forward knows)')
                raise ValueError(f'cannot tell the channels {position} "{at}" from {what}, and {probe_failure}: '
                                 'pass in_channels and dim in the block config, or an input_shape the model takes')
        built.append(build_block(cfg, *io))

    inserted = {}
    for (cfg, at, position, parent, key, target), block in zip(plans, built):
        parent_name = names.get(id(parent), '')
        name = _block_name(cfg, position, key, _child_keys(parent) + _child_keys(target))
        where = _attach(parent, key, target, position, block, name, at)
        inserted[f'{parent_name}.{where}' if parent_name else where] = block
    return inserted


def _reset_after_host_init(host: nn.Module, host_init, blocks: Sequence[nn.Module]) -> None:
    """Run the host's own ``init_weights`` and keep the blocks as they were before it, unless it loaded a checkpoint
    into them.

    A host's blanket init is meant for its own layers: mmaction2's ResNet3d sets every BatchNorm's weight to 1 when
    training from scratch (the blocks' zero-initialised norms too, which would end their identity start), and
    re-initialises every convolution its way. So each block's state is taken before, and put back after, the host's
    init, except for a block that a checkpoint loaded during that init reached (a ``load_state_dict`` carrying keys
    of the block: ``init_cfg=dict(type='Pretrained')`` of a model trained with the blocks).
    """
    before = [{k: v.detach().clone() for k, v in block.state_dict().items()} for block in blocks]
    loaded = set()

    def note_load(index):
        def hook(state_dict, prefix, *args):
            if any(key.startswith(prefix) for key in state_dict):
                loaded.add(index)
        return hook

    handles = [block._register_load_state_dict_pre_hook(note_load(i)) for i, block in enumerate(blocks)]
    try:
        host_init()
    finally:
        for handle in handles:
            handle.remove()
    for i, (block, state) in enumerate(zip(blocks, before)):
        if i not in loaded:
            block.load_state_dict(state)


class _InitWeights:
    """Picklable replacement for a host instance's ``init_weights``."""

    def __init__(self, host: nn.Module, blocks: Sequence[nn.Module]):
        self.host, self.blocks = host, list(blocks)
        self.host_init = type(host).init_weights

    def __call__(self, *args, **kwargs):
        _reset_after_host_init(self.host, lambda: self.host_init(self.host, *args, **kwargs), self.blocks)


def inject_nonlocal(module, blocks: Sequence[dict], input_shape: Optional[Sequence[int]] = None,
                    pretrained: Optional[str] = None) -> nn.Module:
    """Build the host from its config in the current scope (or take a module) and return it with blocks inserted.

    The host keeps its class, so everything of it works as before (``init_weights``, multi-output forward,
    checkpoint names); its ``init_weights`` afterwards restores the blocks' identity start if it reset their norms.
    ``pretrained`` is passed on to the host's config: mmseg's ``EncoderDecoder(pretrained=...)`` (set in upstream
    configs) writes it into the backbone config, which here is ours.
    """
    if pretrained is not None:
        if not isinstance(module, dict):
            raise TypeError('InjectNonlocal got pretrained=... with a built module: load its weights yourself')
        if module.get('pretrained') not in (None, pretrained):
            raise ValueError(f'both the host config (pretrained={module["pretrained"]!r}) and its owner '
                             f'(pretrained={pretrained!r}) set pretrained weights')
        module = dict(module, pretrained=pretrained)
    host = _registry_build(module.get('type'))(module) if isinstance(module, dict) else module
    if not isinstance(host, nn.Module):
        raise TypeError(f'InjectNonlocal needs a module or a module config, got {type(host).__name__}')
    inserted = insert_nonlocal(host, blocks, input_shape=input_shape)
    if hasattr(host, 'init_weights'):
        host.init_weights = _InitWeights(host, inserted.values())
    return host
