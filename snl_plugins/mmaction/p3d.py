"""Pseudo-3D residual networks (Qiu, Yao, Mei, ICCV 2017) as an mmaction2 backbone, ``ResNetP3D``.

Each bottleneck of res2-res4 splits the 3 x 3 x 3 conv of I3D into a spatial 1 x 3 x 3 conv S and a temporal
3 x 1 x 1 conv T, in one of three arrangements that cycle A, B, C, A, B, C, ... by a counter running over all blocks
of res2, res3 and res4 (the paper's order); res5 is plain 2D (a 1 x 3 x 3 conv, frames processed independently):

- P3D-A (cascade):               ``relu(bn_t(T(relu(bn_s(S(x))))))``
- P3D-B (parallel):              ``relu(bn_s(S(x)) + bn_t(T(x)))``          (S and T both read the reduced input)
- P3D-C (cascade + shortcut):    ``s = bn_s(S(x)); relu(s + bn_t(T(relu(s))))``

(x is the output of the block's first 1 x 1 x 1 conv, the result goes to the 1 x 1 x 1 expansion; we implement
Figure 3 of the paper without the 0.5 branch scaling found in places of the authors' Caffe prototxt.) Stem:
1 x 7 x 7 conv with stride (1, 2, 2), then a (2, 3, 3) max-pool with stride 2; a (2, 1, 1) temporal max-pool
follows res2, res3 and res4 (``temporal_pool_stages``), so a 16-frame clip ends with 1 frame in res5.

Parameters are named like torchvision's ResNet (``conv1``, ``bn1``, ``layerN.i.conv1/bn1``, ``conv3/bn3``,
``downsample.0/1``); the split conv is ``conv2_s``/``bn2_s`` (spatial, from the 2D ``conv2``/``bn2``) and
``conv2_t``/``bn2_t`` (temporal, new); res5 keeps ``conv2``/``bn2``. ``pretrained2d=True`` with ``pretrained`` a
local torchvision ResNet checkpoint makes :meth:`ResNetP3D.init_weights` copy every spatial kernel, the stem, the
1 x 1 convs and the norms from the 2D network (the same interface as mmaction2's ``ResNet3d``; remote names like
``torchvision://resnet50`` go through mmengine's loaders as there).

``block_style='caffe'`` builds the network of the authors' released Caffe model instead
(``prototxt/deploy_p3d_resnet_kinetics.prototxt`` of ZhaofanQiu/pseudo-3d-residual-networks, P3D-199 = depth 152),
so that its weights compute what they were trained to: the spatial stride on each stage's first 1 x 1 x 1 conv
(Caffe ResNet style) rather than on the 3 x 3 conv, and

- P3D-B: ``relu(relu(bn_s(S(x))) + bn_t(T(x)))``
- P3D-C: ``s = relu(bn_s(S(x))); relu(0.5 * s + 0.5 * bn_t(T(s)))``

(P3D-A as above). :func:`p3d199_to_mmaction` maps the public PyTorch port's state dict (qijiezhao/pseudo-3d-pytorch,
``P3D199``, converted from that Caffe model) onto it; ``tools/convert/p3d_to_mmaction.py`` is the command line.

Temporal initialisation (``temporal_init``): ``'identity'`` (default) sets every temporal kernel to a centre tap
(a Dirac kernel, the identity over time) and, in P3D-B and P3D-C, the temporal branch's norm weight to zero, so
right after 2D initialisation every block computes exactly its 2D bottleneck on each frame (P3D-A up to its
temporal norm, which is the identity in eval mode on fresh statistics); ``'kaiming'`` draws them at random. Whether
the choice matters for accuracy has not been measured. (With ``block_style='caffe'`` a P3D-C block so initialised
gives half its 2D output, by the 0.5 of the Caffe model.)
"""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .registry import MODELS

__all__ = ['ResNetP3D', 'P3DBottleneck', 'Bottleneck2d', 'P3D_TYPES', 'BLOCK_STYLES', 'p3d199_to_mmaction',
           'convert_p3d_checkpoint']

P3D_TYPES = ('A', 'B', 'C')
BLOCK_STYLES = ('paper', 'caffe')
ARCH = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
TEMPORAL_INITS = ('identity', 'kaiming')


def _bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels)


class _Bottleneck(nn.Module):
    """Shared 1 x 1 x 1 reduce / expand and shortcut of every block; subclasses implement ``middle``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 block_style: str = 'paper'):
        super().__init__()
        if block_style not in BLOCK_STYLES:
            raise ValueError(f'block_style must be one of {BLOCK_STYLES}, got {block_style!r}')
        self.block_style = block_style
        # the stride of the block: on the first 1x1x1 conv (the authors' Caffe model) or on the 3x3 conv (paper)
        self.conv1 = nn.Conv3d(inplanes, planes, 1, stride=(1, stride, stride) if block_style == 'caffe' else 1,
                               bias=False)
        self.bn1 = _bn(planes)
        self.conv3 = nn.Conv3d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = _bn(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def middle(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.middle(out)
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class Bottleneck2d(_Bottleneck):
    """res5's block: a 1 x 3 x 3 middle conv, i.e. the 2D bottleneck applied to every frame."""

    p3d_type = '2D'

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 block_style: str = 'paper'):
        super().__init__(inplanes, planes, stride, downsample, block_style)
        stride = 1 if block_style == 'caffe' else stride
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn2 = _bn(planes)

    def middle(self, x: Tensor) -> Tensor:
        return self.relu(self.bn2(self.conv2(x)))


class P3DBottleneck(_Bottleneck):
    """A P3D-A, -B or -C bottleneck (see the module docstring)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 p3d_type: str = 'A', block_style: str = 'paper'):
        super().__init__(inplanes, planes, stride, downsample, block_style)
        if p3d_type not in P3D_TYPES:
            raise ValueError(f'p3d_type must be one of {P3D_TYPES}, got {p3d_type!r}')
        self.p3d_type = p3d_type
        stride = 1 if block_style == 'caffe' else stride
        self.conv2_s = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1),
                                 bias=False)
        self.bn2_s = _bn(planes)
        # P3D-B's T reads the block input at full resolution: it takes the spatial stride too (a 3 x 1 x 1 kernel)
        t_stride = (1, stride, stride) if p3d_type == 'B' else 1
        self.conv2_t = nn.Conv3d(planes, planes, (3, 1, 1), stride=t_stride, padding=(1, 0, 0), bias=False)
        self.bn2_t = _bn(planes)

    def middle(self, x: Tensor) -> Tensor:
        if self.p3d_type == 'A':
            s = self.relu(self.bn2_s(self.conv2_s(x)))
            return self.relu(self.bn2_t(self.conv2_t(s)))
        caffe = self.block_style == 'caffe'
        if self.p3d_type == 'B':
            s = self.bn2_s(self.conv2_s(x))
            return self.relu((self.relu(s) if caffe else s) + self.bn2_t(self.conv2_t(x)))
        s = self.bn2_s(self.conv2_s(x))
        if caffe:
            s = self.relu(s)
            return self.relu(0.5 * s + 0.5 * self.bn2_t(self.conv2_t(s)))
        return self.relu(s + self.bn2_t(self.conv2_t(self.relu(s))))

    def extra_repr(self) -> str:
        return f'p3d_type={self.p3d_type!r}, block_style={self.block_style!r}'


@MODELS.register_module()
class ResNetP3D(BaseModule):
    """P3D ResNet-50 / 101 / 152 for ``Recognizer3D`` (input B x 3 x T x H x W, output B x 2048 x T' x H' x W').

    Args:
        depth: 50, 101 or 152.
        pretrained: a checkpoint path (or mmengine URL); with ``pretrained2d=True`` a 2D torchvision ResNet of the
            same depth whose weights :meth:`init_weights` copies into the spatial parts, else a P3D checkpoint
            loaded as it is (``strict=False``). ``None`` initialises from scratch.
        pretrained2d: whether ``pretrained`` is a 2D network.
        in_channels: input channels (3 for RGB).
        num_stages, out_indices: as mmaction2's ``ResNet3d`` (stages 0..3 = res2..res5).
        pool1_kernel, pool1_stride: the stem's max-pool over (T, H, W); the paper's (2, 3, 3) / (2, 2, 2).
        temporal_pool_stages: stages after which a (2, 1, 1) max-pool halves the clip; (0, 1, 2) in the paper,
            ``()`` for short clips.
        temporal_init: 'identity' or 'kaiming' (see the module docstring).
        p3d_types: the cycle of block types (default the paper's ``('A', 'B', 'C')``).
        norm_eval: keep every BatchNorm in eval mode while training.
        frozen_stages: stages whose parameters are frozen (-1: none, 0: the stem, i: the stem and res2..res(i+1)).
        block_style: 'paper' (Figure 3 of the P3D paper, stride on the 3x3 conv) or 'caffe' (the authors' released
            Caffe model, which the converted public weights need; see the module docstring).
    """

    def __init__(self, depth: int = 50, pretrained: Optional[str] = None, pretrained2d: bool = True,
                 in_channels: int = 3, num_stages: int = 4, out_indices: Sequence[int] = (3,),
                 pool1_kernel: Tuple[int, int, int] = (2, 3, 3), pool1_stride: Tuple[int, int, int] = (2, 2, 2),
                 temporal_pool_stages: Sequence[int] = (0, 1, 2), temporal_init: str = 'identity',
                 p3d_types: Sequence[str] = P3D_TYPES, norm_eval: bool = False, frozen_stages: int = -1,
                 block_style: str = 'paper', init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if depth not in ARCH:
            raise KeyError(f'invalid depth {depth} for ResNetP3D: choose one of {sorted(ARCH)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be 1 to 4, got {num_stages}')
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} must lie in 0..{num_stages - 1}')
        if temporal_init not in TEMPORAL_INITS:
            raise ValueError(f'temporal_init must be one of {TEMPORAL_INITS}, got {temporal_init!r}')
        bad = [t for t in p3d_types if t not in P3D_TYPES]
        if bad or not p3d_types:
            raise ValueError(f'p3d_types must be a non-empty sequence of {P3D_TYPES}, got {tuple(p3d_types)}')
        self.depth, self.pretrained, self.pretrained2d = depth, pretrained, pretrained2d
        self.num_stages, self.out_indices = num_stages, tuple(out_indices)
        self.temporal_pool_stages = tuple(temporal_pool_stages)
        self.temporal_init, self.p3d_types = temporal_init, tuple(p3d_types)
        self.norm_eval, self.frozen_stages = norm_eval, frozen_stages
        if block_style not in BLOCK_STYLES:
            raise ValueError(f'block_style must be one of {BLOCK_STYLES}, got {block_style!r}')
        self.block_style = block_style

        self.conv1 = nn.Conv3d(in_channels, 64, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn1 = _bn(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(tuple(pool1_kernel), tuple(pool1_stride),
                                    padding=(0,) + tuple(k // 2 for k in pool1_kernel[1:]))
        self.temporal_pool = nn.MaxPool3d((2, 1, 1), (2, 1, 1))

        inplanes, counter = 64, 0
        self.res_layers = []
        for i, num_blocks in enumerate(ARCH[depth][:num_stages]):
            planes, stride = 64 * 2 ** i, 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                downsample = None
                if j == 0 and (stride != 1 or inplanes != planes * 4):
                    downsample = nn.Sequential(
                        nn.Conv3d(inplanes, planes * 4, 1, stride=(1, stride, stride), bias=False), _bn(planes * 4))
                s = stride if j == 0 else 1
                if i < 3:
                    blocks.append(P3DBottleneck(inplanes, planes, s, downsample,
                                                self.p3d_types[counter % len(self.p3d_types)], block_style))
                    counter += 1
                else:
                    blocks.append(Bottleneck2d(inplanes, planes, s, downsample, block_style))
                inplanes = planes * 4
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.res_layers.append(name)
        self.feat_dim = inplanes

    # ------------------------------------------------------------------------------------------------ weights
    def _init_scratch(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, _BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _init_temporal(self) -> None:
        for m in self.modules():
            if not isinstance(m, P3DBottleneck):
                continue
            nn.init.ones_(m.bn2_t.weight)
            nn.init.zeros_(m.bn2_t.bias)
            m.bn2_t.reset_running_stats()
            if self.temporal_init == 'kaiming':
                nn.init.kaiming_normal_(m.conv2_t.weight, mode='fan_out', nonlinearity='relu')
                continue
            with torch.no_grad():
                w = m.conv2_t.weight  # planes x planes x 3 x 1 x 1
                w.zero_()
                w[:, :, 1, 0, 0] = torch.eye(w.shape[0], dtype=w.dtype)
            if m.p3d_type in ('B', 'C'):
                nn.init.zeros_(m.bn2_t.weight)

    @staticmethod
    def name_2d(name_3d: str) -> str:
        """The torchvision parameter name that a P3D parameter takes its weights from (spatial parts only)."""
        return name_3d.replace('conv2_s.', 'conv2.').replace('bn2_s.', 'bn2.')

    def inflate_weights(self, logger: Optional[MMLogger] = None) -> list:
        """Copy the 2D network at ``self.pretrained`` into every spatial conv, the stem, the 1x1 convs and the
        norms; returns the names of the P3D parameters and buffers that were not copied (the temporal ones)."""
        from mmengine.runner.checkpoint import _load_checkpoint
        logger = logger or MMLogger.get_current_instance()
        state_2d = _load_checkpoint(self.pretrained, map_location='cpu')
        if isinstance(state_2d, dict) and 'state_dict' in state_2d:
            state_2d = state_2d['state_dict']
        state_2d = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in state_2d.items())
        copied, not_copied = set(), []
        with torch.no_grad():
            for name, tensor in list(self.named_parameters()) + list(self.named_buffers()):
                src = self.name_2d(name)
                if src not in state_2d or '.conv2_t.' in name or '.bn2_t.' in name:
                    not_copied.append(name)
                    continue
                w2d = state_2d[src]
                if tensor.dim() == 5 and w2d.dim() == 4:  # conv kernel: O x I x kh x kw -> O x I x 1 x kh x kw
                    w2d = w2d.unsqueeze(2)
                if tuple(w2d.shape) != tuple(tensor.shape):
                    raise ValueError(f'{self.pretrained}: "{src}" has shape {tuple(w2d.shape)}, but ResNetP3D'
                                     f'(depth={self.depth}) needs {tuple(tensor.shape)} for "{name}": is it a 2D '
                                     f'ResNet-{self.depth}?')
                tensor.copy_(w2d.to(tensor.dtype))
                copied.add(src)
        if not copied:
            raise ValueError(f'{self.pretrained} holds none of the parameters of a torchvision ResNet-{self.depth} '
                             f'(first keys: {list(state_2d)[:5]})')
        unused = sorted(set(state_2d) - copied)
        if unused:
            logger.info(f'parameters of the 2D checkpoint not used by ResNetP3D: {unused}')
        expected = [n for n in not_copied if '.conv2_t.' not in n and '.bn2_t.' not in n]
        if expected:
            logger.warning(f'ResNetP3D parameters not found in {self.pretrained}: {expected}')
        return not_copied

    def init_weights(self, pretrained: Optional[str] = None) -> None:
        """From scratch (``pretrained=None``), from a 2D ResNet (``pretrained2d``) or from a P3D checkpoint."""
        if pretrained:
            self.pretrained = pretrained
        if self.pretrained is not None and not isinstance(self.pretrained, str):
            raise TypeError(f'pretrained must be a str or None, got {type(self.pretrained).__name__}')
        self._init_scratch()
        self._init_temporal()
        if self.pretrained is None:
            return
        logger = MMLogger.get_current_instance()
        logger.info(f'load model from: {self.pretrained}')
        if self.pretrained2d:
            self.inflate_weights(logger)
        else:
            from mmengine.runner.checkpoint import load_checkpoint
            load_checkpoint(self, self.pretrained, strict=False, logger=logger)

    # ------------------------------------------------------------------------------------------------ forward
    def forward(self, x: Tensor):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.temporal_pool_stages and i < 3:
                if x.shape[2] < 2:
                    raise ValueError(f'ResNetP3D: the clip has {x.shape[2]} frame(s) after res{i + 2}, too few for '
                                     f'its temporal pool; use longer clips or fewer temporal_pool_stages '
                                     f'(now {self.temporal_pool_stages})')
                x = self.temporal_pool(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for m in (self.conv1, self.bn1):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            m = getattr(self, f'layer{i}')
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


# ------------------------------------------------------------------------------------------------ public weights
# qijiezhao/pseudo-3d-pytorch (P3D63 / P3D131 / P3D199: blocks (3, 4, 6, 3), (3, 4, 23, 3), (3, 8, 36, 3)) names the
# parts of a block after their order (conv1..conv4, conv2 = S, conv3 = T), and res5's 2D block conv_normal
PORT_STEM = {'conv1_custom.': 'conv1.', 'bn1.': 'bn1.'}
PORT_BLOCK_3D = {'conv2': 'conv2_s', 'bn2': 'bn2_s', 'conv3': 'conv2_t', 'bn3': 'bn2_t', 'conv4': 'conv3',
                 'bn4': 'bn3'}
PORT_BLOCK_2D = {'conv_normal': 'conv2', 'bn_normal': 'bn2', 'conv4': 'conv3', 'bn4': 'bn3'}
PORT_DEPTHS = {blocks[2]: depth for depth, blocks in ARCH.items()}  # res4's block count -> depth
OUR_BACKBONE, OUR_FC = 'backbone.', 'cls_head.fc_cls.'


def p3d199_to_mmaction(state_dict) -> 'OrderedDict[str, Tensor]':
    """The public PyTorch P3D port's keys -> a ``Recognizer3D`` with ``ResNetP3D(block_style='caffe')`` + ``I3DHead``.

    ``conv1_custom`` -> ``backbone.conv1``; in res2-res4 ``conv2`` / ``conv3`` / ``conv4`` (S, T, expansion) ->
    ``conv2_s`` / ``conv2_t`` / ``conv3`` (norms alike); in res5 ``conv_normal`` / ``conv4`` -> ``conv2`` / ``conv3``
    with the 2D kernels given a time axis of 1; ``fc`` -> ``cls_head.fc_cls``; an ``nn.DataParallel`` ``module.``
    prefix is dropped.

    Raises:
        ValueError: a key the port's layout does not have, naming it.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        if name.startswith('fc.'):
            out[OUR_FC + name[len('fc.'):]] = value
            continue
        stem = next((p for p in PORT_STEM if name.startswith(p)), None)
        if stem is not None:
            out[OUR_BACKBONE + PORT_STEM[stem] + name[len(stem):]] = value
            continue
        parts = name.split('.')
        if len(parts) < 4 or parts[0] not in ('layer1', 'layer2', 'layer3', 'layer4'):
            raise ValueError(f'{key!r} is not a parameter of the public P3D port (qijiezhao/pseudo-3d-pytorch): '
                           'expected conv1_custom.*, bn1.*, layerN.i.*, fc.*')
        table = PORT_BLOCK_2D if parts[0] == 'layer4' else PORT_BLOCK_3D
        if parts[2] != 'downsample':
            if parts[2] not in table and parts[2] not in ('conv1', 'bn1'):
                raise ValueError(f'{key!r}: a {"res5" if parts[0] == "layer4" else "P3D"} block of the public P3D '
                               f'port has no "{parts[2]}" (it has conv1, bn1, {", ".join(table)}, downsample)')
            parts[2] = table.get(parts[2], parts[2])
        if parts[0] == 'layer4' and value.dim() == 4:  # 2D kernel: O x I x kh x kw -> O x I x 1 x kh x kw
            value = value.unsqueeze(2)
        out[OUR_BACKBONE + '.'.join(parts)] = value
    return out


def convert_p3d_checkpoint(checkpoint) -> dict:
    """A public P3D port checkpoint (``{'state_dict': ...}`` as ``p3d_rgb_199.checkpoint.pth.tar``, or a bare state
    dict) -> an mmengine checkpoint ``{'state_dict', 'meta'}`` for ``load_from`` of a ``Recognizer3D`` with
    ``ResNetP3D(depth=meta['depth'], in_channels=meta['in_channels'], block_style='caffe')``.

    Raises:
        ValueError: not the port's layout (no ``conv1_custom.weight``), or a res4 block count of no ResNet depth.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    names = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    if 'conv1_custom.weight' not in names:
        raise ValueError('not a checkpoint of the public P3D port (qijiezhao/pseudo-3d-pytorch): no '
                         f'conv1_custom.weight among {list(names)[:5]} ...')
    res4 = len({k.split('.')[1] for k in names if k.startswith('layer3.')})
    if res4 not in PORT_DEPTHS:
        raise ValueError(f'the checkpoint has {res4} blocks in res4; ResNetP3D has {sorted(PORT_DEPTHS)} '
                         f'(depths {sorted(ARCH)}; P3D-199 is depth 152)')
    meta = dict(depth=PORT_DEPTHS[res4], in_channels=int(names['conv1_custom.weight'].shape[1]),
                block_style='caffe', converted_from='qijiezhao/pseudo-3d-pytorch')
    return {'state_dict': p3d199_to_mmaction(state_dict), 'meta': meta}
