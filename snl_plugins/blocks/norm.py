"""Normalisation layers from OpenMMLab-style configs (``dict(type='BN')``, ``'SyncBN'``, ``'GN'``, ``'IN'``)."""
from typing import Optional

from torch import nn

_BATCH_NORMS = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE_NORMS = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def build_norm_layer(cfg: Optional[dict], num_features: int, dim: int) -> nn.Module:
    """Build the norm over ``num_features`` channels for ``dim``-D feature maps.

    Not mmcv's ``build_norm_layer``: this one takes the block's ``dim`` and returns the layer alone. 'BN' is the
    batch norm of the block's dimensionality ('BN1d' / 'BN2d' / 'BN3d' must match it); 'SyncBN', 'GN'
    (``num_groups``), 'IN' and 'LN' (a layer norm over (C, *spatial) of each sample, i.e. GroupNorm with one group)
    are built here too; any other type is looked up in mmengine's ``MODELS`` (where a full or
    lite mmcv registers its norms) and given ``num_features``.
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
    elif norm_type == 'LN':  # over (C, *spatial) of each sample, as GroupNorm with one group
        layer = nn.GroupNorm(1, num_features, **cfg)
    else:
        from mmengine.registry import MODELS
        cls = MODELS.get(norm_type)
        if cls is None:
            raise ValueError(f'unknown norm type {norm_type!r}: expected BN, SyncBN, GN, IN, LN or a norm '
                             'registered in mmengine MODELS')
        layer = cls(num_features, **cfg)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer
