"""A thin mmengine ``BaseModel`` around any timm model."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from ..engine.losses import build_loss, labels_from_samples

__all__ = ['TimmClassifier', 'build_loss', 'labels_from_samples', 'replace_stem']


def _import_timm_models() -> None:
    """Register our timm model names (``preresnet56_snl``, ``resnet50_gsnl``, ...), if that adapter exists."""
    try:
        import snl_plugins.timm  # noqa: F401
    except ModuleNotFoundError as e:  # only its absence is tolerated, never an error inside it
        if e.name not in ('snl_plugins.timm', 'timm'):
            raise


def replace_stem(model: nn.Module, stem: str) -> nn.Module:
    """``stem='cifar'``: ``conv1`` -> 3x3 stride-1 conv (same channels, no bias), ``maxpool`` -> identity."""
    if stem != 'cifar':
        raise ValueError(f"stem must be None or 'cifar', got {stem!r}")
    conv = getattr(model, 'conv1', None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(model, 'maxpool'):
        raise ValueError(f"stem='cifar' needs a ResNet-like model with a Conv2d conv1 and a maxpool; "
                         f'{type(model).__name__} has conv1={type(conv).__name__}')
    model.conv1 = nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


@MODELS.register_module()
class TimmClassifier(BaseModel):
    """mmengine model around ``timm.create_model(**model)``.

    Args:
        model: keyword arguments of ``timm.create_model`` (``name`` or ``model_name`` first), e.g.
            ``dict(name='preresnet56_snl', num_classes=100, nl_cfg=dict(reduction=2))``. Pretrained weights from a local
            file: ``pretrained=True, pretrained_cfg_overlay=dict(file='/path/resnet50.pth')`` (timm loads it with
            ``weights_only=True`` and drops the classifier when ``num_classes`` differs).
        loss: loss config (see :func:`build_loss`); cross-entropy by default.
        data_preprocessor: mmengine data preprocessor config; ``dict(mean=..., std=...)`` makes an
            ``ImgDataPreprocessor`` (the default type).
        stem: ``'cifar'`` replaces a timm ResNet's ImageNet stem (7x7 stride-2 ``conv1`` + ``maxpool``) by one 3x3
            stride-1 convolution, the usual ResNet-50-on-CIFAR convention (32x32 inputs keep 8x8 maps at ``layer3``
            instead of 2x2). ``None`` (default) leaves the model as timm builds it.
        init_cfg: mmengine init config (e.g. ``dict(type='Pretrained', checkpoint=...)``).

    ``forward(inputs, data_samples, mode)``: ``'tensor'`` returns logits, ``'loss'`` a dict with ``loss``, ``'predict'``
    a list of ``dict(pred_score, pred_label, gt_label)`` per sample (what :class:`~snl_plugins.cls.Accuracy` reads).
    """

    def __init__(self, model: dict, loss: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 stem: Optional[str] = None, init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor')
        else:
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type', 'ImgDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        import timm
        _import_timm_models()

        kwargs = copy.deepcopy(dict(model))
        name = kwargs.pop('name', None) or kwargs.pop('model_name', None)
        if name is None:
            raise KeyError("TimmClassifier: model=dict(name='<timm model name>', ...) is required")
        if 'pretrained_cfg_overlay' in kwargs and kwargs['pretrained_cfg_overlay'] is not None:
            kwargs['pretrained_cfg_overlay'] = dict(kwargs['pretrained_cfg_overlay'])
        self.model = timm.create_model(name, **kwargs)
        # timm initialises (or loads) the network in create_model; mmengine's Runner then calls init_weights() on
        # every child that has one, and timm's would re-initialise it: loaded weights and the blocks' identity start
        # would be lost.
        self.model.is_init = True
        if stem is not None:
            replace_stem(self.model, stem)
        self.loss_module = build_loss(loss)

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        logits = self.model(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = labels_from_samples(data_samples, logits.device)
            return dict(loss=self.loss_module(logits, labels))
        if mode == 'predict':
            return self.predict(logits, data_samples)
        raise RuntimeError(f'Invalid mode {mode!r}: use "tensor", "loss" or "predict"')

    @staticmethod
    def predict(logits: torch.Tensor, data_samples=None) -> List[Dict[str, torch.Tensor]]:
        scores = torch.softmax(logits.detach().float(), dim=1)
        labels = labels_from_samples(data_samples) if data_samples is not None else None
        out = []
        for i, score in enumerate(scores):
            item = dict(pred_score=score.cpu(), pred_label=score.argmax().cpu())
            if labels is not None:
                item['gt_label'] = labels[i].cpu()
            out.append(item)
        return out
