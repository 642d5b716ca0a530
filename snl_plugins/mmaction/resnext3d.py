"""3D ResNeXt (Hara, Kataoka, Satoh, CVPR 2018), the backbone of MARS (Crasto et al., CVPR 2019), as an mmaction2
backbone, ``ResNeXt3d``.

The published architecture, as in the authors' code (kenshohara/3D-ResNets-PyTorch ``models/resnext.py``, copied
into craston/MARS): stem 7 x 7 x 7 conv with stride (1, 2, 2) and a 3 x 3 x 3 max-pool with stride 2; four stages
of bottlenecks (1 x 1 x 1 reduce, grouped 3 x 3 x 3 conv with ``cardinality`` groups, 1 x 1 x 1 expand by 2) whose
widths are 128 / 256 / 512 / 1024 inside and 256 / 512 / 1024 / 2048 out; the first block of stages 2-4 has
stride 2 in T, H and W (on its grouped conv); shortcut type B (a strided 1 x 1 x 1 conv + BN where the shape
changes). Depth 50 / 101 / 152 = blocks (3, 4, 6, 3) / (3, 4, 23, 3) / (3, 8, 36, 3).

Parameter names are the authors' (``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``bn3``, ``layerN.0.downsample.0/1``),
so their checkpoints load after removing DataParallel's ``module.`` prefix (see
:func:`snl_plugins.mmaction.mars.mars_to_mmaction`). Weights start as theirs: Kaiming-normal (fan-out) convs,
BatchNorm at 1 / 0 (done at construction, as their code does; an ``init_cfg`` of type ``Pretrained`` loads over it).
"""
from typing import Optional, Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .registry import MODELS

__all__ = ['ResNeXt3d', 'ResNeXtBottleneck', 'RESNEXT3D_ARCH']

RESNEXT3D_ARCH = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
STAGE_PLANES = (128, 256, 512, 1024)  # the authors' `planes`: the grouped conv's width at cardinality 32


class ResNeXtBottleneck(nn.Module):
    """1 x 1 x 1 reduce -> grouped 3 x 3 x 3 (stride on it) -> 1 x 1 x 1 expand (x2), plus the shortcut."""

    expansion = 2

    def __init__(self, inplanes: int, planes: int, cardinality: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None):
        super().__init__()
        mid_planes = cardinality * (planes // 32)
        self.conv1 = nn.Conv3d(inplanes, mid_planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid_planes)
        self.conv2 = nn.Conv3d(mid_planes, mid_planes, kernel_size=3, stride=stride, padding=1, groups=cardinality,
                               bias=False)
        self.bn2 = nn.BatchNorm3d(mid_planes)
        self.conv3 = nn.Conv3d(mid_planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@MODELS.register_module()
class ResNeXt3d(BaseModule):
    """3D ResNeXt-50 / 101 / 152 for ``Recognizer3D``: input N x C x T x H x W (C = ``in_channels``: 3 for RGB,
    2 for optical flow), output the last stage's N x 2048 x T/16 x H/32 x W/32 (rounded up).

    Args:
        depth: 50, 101 or 152.
        in_channels: 3 (RGB) or 2 (x / y flow); any positive number is accepted.
        cardinality: groups of the 3 x 3 x 3 convs (32 in MARS; the width per group is 4 in stage 1).
        stage_blocks: blocks per stage, overriding ``depth``'s (as mmaction2's ``ResNet3d``); for small tests.
        frozen_stages: -1 freezes nothing, 0 the stem, i the stem and stages 1..i (MARS fine-tunes with 3: only
            the last stage and the head train). Only the ResNeXt blocks of a stage are frozen: modules inserted
            into a frozen stage (a non-local block of ``InjectNonlocal``) are new and keep training.
        norm_eval: keep every BatchNorm in eval mode while training.
        init_cfg: mmengine init config (e.g. ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``).
    """

    def __init__(self, depth: int = 101, in_channels: int = 3, cardinality: int = 32,
                 stage_blocks: Optional[Sequence[int]] = None, frozen_stages: int = -1, norm_eval: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if depth not in RESNEXT3D_ARCH:
            raise KeyError(f'invalid depth {depth} for ResNeXt3d: choose one of {sorted(RESNEXT3D_ARCH)}')
        blocks = tuple(stage_blocks) if stage_blocks is not None else RESNEXT3D_ARCH[depth]
        if len(blocks) != 4 or any(int(b) < 1 for b in blocks):
            raise ValueError(f'stage_blocks must be 4 positive block counts, got {stage_blocks}')
        if in_channels < 1:
            raise ValueError(f'in_channels must be positive (3 for RGB, 2 for flow), got {in_channels}')
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'frozen_stages must be -1 (none), 0 (stem) or 1..4, got {frozen_stages}')
        if cardinality < 1:
            raise ValueError(f'cardinality must be positive, got {cardinality}')
        self.depth, self.in_channels, self.cardinality = depth, in_channels, cardinality
        self.stage_blocks, self.frozen_stages, self.norm_eval = blocks, frozen_stages, norm_eval

        self.conv1 = nn.Conv3d(in_channels, 64, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, num_blocks) in enumerate(zip(STAGE_PLANES, blocks)):
            stride = 1 if i == 0 else 2
            out = planes * ResNeXtBottleneck.expansion
            downsample = None
            if stride != 1 or inplanes != out:  # shortcut type B
                downsample = nn.Sequential(nn.Conv3d(inplanes, out, kernel_size=1, stride=stride, bias=False),
                                           nn.BatchNorm3d(out))
            layer = [ResNeXtBottleneck(inplanes, planes, cardinality, stride, downsample)]
            layer += [ResNeXtBottleneck(out, planes, cardinality) for _ in range(1, num_blocks)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*layer))
            inplanes = out

        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.train()  # frozen stages stop requiring gradients now, before an optimizer collects the parameters

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            kind = {3: 'RGB', 2: 'optical flow (x, y)'}.get(self.in_channels, f'{self.in_channels}-channel')
            raise ValueError(f'ResNeXt3d(in_channels={self.in_channels}) takes {kind} clips N x {self.in_channels} '
                             f'x T x H x W, got a tensor of shape {tuple(x.shape)}; check the modality of the data '
                             'set and the backbone (in_channels=3 for RGB, 2 for flow)')
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
        return x

    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield from (self.conv1, self.bn1)
        for i in range(1, self.frozen_stages + 1):
            yield from (m for m in getattr(self, f'layer{i}') if isinstance(m, ResNeXtBottleneck))

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
