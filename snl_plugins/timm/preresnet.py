"""CIFAR pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks") as timm models.

PreResNet-20 uses basic blocks (3 per stage), PreResNet-56 bottlenecks (6 per stage, expansion 4), stages of
16 / 32 / 64 planes on 32 x 32 inputs, as in the SNL authors' CIFAR code. Stages are ``layer1``..``layer3``
(``nn.Sequential``), so ``layer1.1`` is the second block of stage 1, where the paper inserts its blocks.
"""
from typing import List, Optional, Tuple, Union

import torch
from timm.layers import create_classifier
from timm.models import build_model_with_cfg, checkpoint_seq
from timm.models._features import feature_take_indices
from timm.models._pretrained import PretrainedCfg
from torch import nn

from ._factory import BLOCK_TYPES, register

__all__ = ['PreResNet', 'PreActBasicBlock', 'PreActBottleneck']

PRERESNET_DEPTHS = (20, 56)
_CIFAR_CFG = dict(url='', num_classes=100, input_size=(3, 32, 32), pool_size=(8, 8), crop_pct=1.0,
                  interpolation='bilinear', mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
                  first_conv='conv1', classifier='fc', license='apache-2.0')
default_cfgs = {}  # filled by register(), read by timm's register_model


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv3x3, BN-ReLU-conv3x3, plus the (projected) input."""
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv1 = _conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.downsample = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv1(self.act1(self.bn1(x)))
        return self.conv2(self.act2(self.bn2(out))) + shortcut


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1 (x4 planes), plus the (projected) input."""
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.act3 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.downsample = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv1(self.act1(self.bn1(x)))
        out = self.conv2(self.act2(self.bn2(out)))
        return self.conv3(self.act3(self.bn3(out))) + shortcut


def _shortcut(in_planes: int, out_planes: int, stride: int) -> Optional[nn.Module]:
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class PreResNet(nn.Module):
    """Pre-activation ResNet for 32 x 32 inputs: conv3x3(16), three stages, BN-ReLU, global pool, ``fc``."""

    def __init__(self, depth: int = 56, block: str = 'auto', num_classes: int = 100, in_chans: int = 3,
                 global_pool: str = 'avg', drop_rate: float = 0.0, widths: Tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        if block == 'auto':
            block = 'bottleneck' if depth >= 44 else 'basic'
        block_cls = {'basic': PreActBasicBlock, 'bottleneck': PreActBottleneck}[block]
        layers_per_block = 3 if block_cls is PreActBottleneck else 2
        num_blocks, rem = divmod(depth - 2, 3 * layers_per_block)
        if rem:
            raise ValueError(f'depth {depth} does not fit {block} blocks: need depth = 6n + 2 (basic) or 9n + 2 '
                             '(bottleneck)')
        self.num_classes, self.drop_rate, self.grad_checkpointing = num_classes, drop_rate, False
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, padding=1, bias=False)
        in_planes, self.feature_info = widths[0], []
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers = []
            for b in range(num_blocks):
                layers.append(block_cls(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes * block_cls.expansion
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
            self.feature_info.append(dict(num_chs=in_planes, reduction=2 ** i, module=f'layer{i + 1}'))
        self.num_features = self.head_hidden_size = in_planes
        self.bn = nn.BatchNorm2d(in_planes)
        self.act = nn.ReLU(inplace=True)
        self.global_pool, self.fc = create_classifier(in_planes, num_classes, pool_type=global_pool)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False):
        return dict(stem=r'^conv1', blocks=r'^layer(\d+)' if coarse else r'^layer(\d+)\.(\d+)')

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True):
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None):
        self.num_classes = num_classes
        pool_type = self.global_pool.pool_type if global_pool is None else global_pool
        self.global_pool, self.fc = create_classifier(self.num_features, num_classes, pool_type=pool_type)

    def forward_intermediates(self, x: torch.Tensor, indices: Optional[Union[int, List[int]]] = None,
                              norm: bool = False, stop_early: bool = False, output_fmt: str = 'NCHW',
                              intermediates_only: bool = False):
        """Features after each stage (timm's ``forward_intermediates`` contract)."""
        assert output_fmt == 'NCHW', 'Output shape must be NCHW.'
        take_indices, max_index = feature_take_indices(3, indices)
        intermediates = []
        x = self.conv1(x)
        stages = [self.layer1, self.layer2, self.layer3]
        for i, stage in enumerate(stages[:max_index + 1] if stop_early else stages):
            x = stage(x)
            if i in take_indices:
                intermediates.append(self.act(self.bn(x)) if norm and i == 2 else x)
        if intermediates_only:
            return intermediates
        return self.act(self.bn(x)), intermediates

    def prune_intermediate_layers(self, indices: Union[int, List[int]] = 1, prune_norm: bool = False,
                                  prune_head: bool = True):
        take_indices, max_index = feature_take_indices(3, indices)
        for i in range(max_index + 1, 3):
            setattr(self, f'layer{i + 1}', nn.Identity())
        if prune_norm:
            self.bn, self.act = nn.Identity(), nn.Identity()
        if prune_head:
            self.reset_classifier(0, '')
        return take_indices

    def forward_features(self, x):
        x = self.conv1(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.layer3, checkpoint_seq(self.layer2, checkpoint_seq(self.layer1, x)))
        else:
            x = self.layer3(self.layer2(self.layer1(x)))
        return self.act(self.bn(x))

    def forward_head(self, x, pre_logits: bool = False):
        x = self.global_pool(x)
        if self.drop_rate:
            x = nn.functional.dropout(x, p=self.drop_rate, training=self.training)
        return x if pre_logits else self.fc(x)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def create_preresnet(variant: str, pretrained: bool = False, **kwargs) -> PreResNet:
    return build_model_with_cfg(PreResNet, variant, pretrained,
                                feature_cfg=dict(flatten_sequential=False, out_indices=(0, 1, 2)), **kwargs)


def _builder(depth: int):
    return lambda pretrained=False, **kwargs: create_preresnet(f'preresnet{depth}', pretrained,
                                                               **dict(dict(depth=depth), **kwargs))


for _depth in PRERESNET_DEPTHS:
    register(__name__, f'preresnet{_depth}', _builder(_depth), PretrainedCfg(**_CIFAR_CFG))
    for _suffix in BLOCK_TYPES:  # right after the second block of stage 1, as in the paper
        register(__name__, f'preresnet{_depth}_{_suffix}', _builder(_depth), PretrainedCfg(**_CIFAR_CFG), _suffix,
                 at=('layer1.1',), position='after')
