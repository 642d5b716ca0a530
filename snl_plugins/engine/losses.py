"""Losses and labels for the mmengine-side models (classification, re-ID)."""
from __future__ import annotations

import copy
from typing import Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

__all__ = ['build_loss', 'labels_from_samples']


def build_loss(cfg: Union[dict, nn.Module, None]) -> nn.Module:
    """Build a loss from a config dict.

    ``type`` is looked up in mmengine's ``MODELS`` first (so a registered loss of any scope works), then in ``torch.nn``
    (``dict(type='CrossEntropyLoss', label_smoothing=0.1)``).
    """
    if cfg is None:
        return nn.CrossEntropyLoss()
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = copy.deepcopy(dict(cfg))
    loss_type = cfg.pop('type')
    if not isinstance(loss_type, str):
        return loss_type(**cfg)
    if MODELS.get(loss_type) is not None:
        return MODELS.build(dict(type=loss_type, **cfg))
    if hasattr(nn, loss_type):
        return getattr(nn, loss_type)(**cfg)
    raise KeyError(f'Unknown loss type {loss_type!r}: not in mmengine MODELS nor in torch.nn')


def labels_from_samples(data_samples, device=None) -> torch.Tensor:
    """Labels as a 1-D long tensor from what the data loader gives (a tensor, a list of ints or of dicts)."""
    if isinstance(data_samples, torch.Tensor):
        labels = data_samples
    elif isinstance(data_samples, dict):
        labels = data_samples['gt_label']
    else:
        items = []
        for s in data_samples:
            if isinstance(s, dict):
                s = s['gt_label']
            elif hasattr(s, 'gt_label'):
                s = s.gt_label
            items.append(torch.as_tensor(s).reshape(-1))
        labels = torch.cat(items)
    labels = torch.as_tensor(labels).reshape(-1).long()
    return labels.to(device) if device is not None else labels
