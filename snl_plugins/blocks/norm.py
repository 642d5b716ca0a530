"""Normalisation layers from OpenMMLab-style configs (``dict(type='BN')``, ``'SyncBN'``, ``'GN'``, ``'IN'``)."""
from typing import Optional

from torch import nn

_BATCH_NORMS = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE_NORMS = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def build_block_norm(cfg: Optional[dict], num_features: int, dim: int) -> nn.Module:
    """The norm of a block's output: over ``num_features`` channels of channel-first ``dim``-D feature maps.

    Unlike mmcv's ``build_norm_layer`` (which returns ``(name, layer)`` and builds a 2D batch norm for 'BN'), this
    takes the block's ``dim`` and returns the layer alone. 'BN' is the batch norm of the block's dimensionality
    ('BN1d' / 'BN2d' / 'BN3d' must match it); 'SyncBN', 'GN' (``num_groups``; ``num_groups=1`` is a layer norm over
    (C, *spatial) of each sample) and 'IN' are built here; any other type is looked up in mmengine's ``MODELS``
    (where a full or lite mmcv registers its norms) and given ``num_features``.
    """
    cfg = dict(type='BN') if cfg is None else dict(cfg)
    if 'type' not in cfg:
        raise ValueError(f'norm_cfg needs a "type", got {cfg}')
    norm_type = cfg.pop('type')
    requires_grad = cfg.pop('requires_grad', True)
    if norm_type in ('BN1d', 'BN2d', 'BN3d') and norm_type != f'BN{dim}d':
        raise ValueError(f'norm_cfg type {norm_type!r} does not fit a {dim}D block: use "BN" (the batch norm of the '
                         f"block's dimensionality) or 'BN{dim}d'")
    if norm_type in ('BN', 'BN1d', 'BN2d', 'BN3d'):
        layer = _BATCH_NORMS[dim](num_features, **cfg)
    elif norm_type in ('SyncBN', 'MMSyncBN'):
        layer = nn.SyncBatchNorm(num_features, **cfg)
    elif norm_type == 'GN':
        if 'num_groups' not in cfg:
            raise ValueError('norm_cfg of type "GN" needs num_groups')
        layer = nn.GroupNorm(num_channels=num_features, **cfg)
    elif norm_type == 'IN':
        layer = _INSTANCE_NORMS[dim](num_features, affine=cfg.pop('affine', True), **cfg)
    elif norm_type == 'LN':  # mmcv's 'LN' is torch's LayerNorm over the last axis: W of a channel-first map
        raise ValueError("norm_cfg type 'LN' would normalise the last axis of a channel-first map (W), not the "
                         "channels: use dict(type='GN', num_groups=1) for a layer norm over (C, *spatial)")
    else:
        try:
            from mmengine.registry import MODELS
        except ImportError:
            raise ValueError(f'unknown norm type {norm_type!r}: expected BN, SyncBN, GN or IN (other types are '
                             'looked up in mmengine MODELS, and mmengine is not installed)') from None
        cls = MODELS.get(norm_type)
        if cls is None:
            raise ValueError(f'unknown norm type {norm_type!r}: expected BN, SyncBN, GN, IN or a norm '
                             'registered in mmengine MODELS')
        layer = cls(num_features, **cfg)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer


# the pre-0.2 name (mmcv's, with another signature), kept for one release
build_norm_layer = build_block_norm
