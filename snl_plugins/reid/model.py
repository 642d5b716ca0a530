"""The temporal models of Gao & Nevatia 2018 ("Revisiting Temporal Modeling for Video-based Person ReID") with
non-local blocks injected by config, as one mmengine ``BaseModel``: :class:`RTM`.

An ImageNet ResNet (timm; timm's and torchvision's ResNet state dicts share their names, so either's ImageNet file
loads) runs on every frame of a clip; the T frame maps are pooled over space, then fused over time by the mean (RTMtp)
or by temporal attention (RTMta); a linear classifier over the training identities follows, with an optional BN-neck.
Training: label-smoothed cross-entropy on the logits + batch-hard triplet loss on the clip feature.
"""
from __future__ import annotations

import copy
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.registry import MODELS
from torch import nn

from ..engine.losses import build_loss, labels_from_samples
from ..frames import FramesNonlocal
from ..inject import insert_nonlocal

__all__ = ['RTM', 'ClipNonlocal', 'ClipDataPreprocessor', 'BatchHardTripletLoss', 'load_backbone_weights']

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class ClipDataPreprocessor(BaseDataPreprocessor):
    """Moves clips to the model's device and normalises them (uint8 ``... x C x H x W`` -> float).

    Takes a batch tensor (B x T x C x H x W in training) or a list of per-tracklet tensors (N x T x C x H x W at test
    time, N differing between tracklets)."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 non_blocking: bool = False):
        super().__init__(non_blocking)
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = [self._norm(x) for x in inputs]
        else:
            inputs = self._norm(inputs)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))


@MODELS.register_module()
class ClipNonlocal(FramesNonlocal):
    """A 3D block over a clip's T x H x W maps, placed where the host sees frames (B*T x C x H x W).

    ``block`` is the 3D block's config (``dict(type='SNL', reduction=2)``); the clip length is set by the owner
    (:class:`RTM` sets ``clip_len`` before every forward). Frames of a clip must be consecutive in the batch.
    """
    frames_name = 'clip_len'

    def __init__(self, in_channels: int, dim: int = 2, block: Optional[dict] = None):
        super().__init__(in_channels, block, None, dim)

    @property
    def clip_len(self) -> Optional[int]:
        return self.num_frames

    @clip_len.setter
    def clip_len(self, value: Optional[int]) -> None:
        self.num_frames = value


@MODELS.register_module()
class BatchHardTripletLoss(nn.Module):
    """Batch-hard triplet loss (Hermans et al. 2017) on Euclidean distances: for every anchor its farthest positive
    and nearest negative in the batch, ``mean(relu(d_ap - d_an + margin))`` (Gao & Nevatia's ``TripletLoss``)."""

    def __init__(self, margin: float = 0.3):
        super().__init__()
        self.margin = float(margin)

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        feats = feats.float()
        sq = (feats * feats).sum(1, keepdim=True)
        dist = (sq + sq.t() - 2.0 * feats @ feats.t()).clamp(min=1e-12).sqrt()
        same = labels[:, None] == labels[None, :]
        d_ap = dist.masked_fill(~same, float('-inf')).max(1).values
        d_an = dist.masked_fill(same, float('inf')).min(1).values
        return F.relu(d_ap - d_an + self.margin).mean()

    def extra_repr(self) -> str:
        return f'margin={self.margin}'


def load_backbone_weights(backbone: nn.Module, path: str) -> None:
    """Load an ImageNet ResNet state dict (timm or torchvision, ``.pth`` / ``.pt`` / ``.safetensors``, optionally
    under ``state_dict`` / ``model``) into a timm ResNet without its classifier; anything else missing or unexpected
    raises, naming the keys."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'pretrained backbone weights not found: {path}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        state = load_file(path)
    else:
        state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    classifier = {'fc.weight', 'fc.bias'}
    state = {k: v for k, v in state.items() if k not in classifier}
    result = backbone.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f'{path} does not fit the backbone {type(backbone).__name__}: missing '
                         f'{result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]} (expected an ImageNet '
                         'ResNet state dict of the same depth, timm or torchvision names)')


def _map_size(size: int, stride: int = 32) -> int:
    """Feature-map size of a ResNet (5 stride-2 steps with padding: ceil halving) for an input of ``size``."""
    for _ in range(int(round(math.log2(stride)))):
        size = (size + 1) // 2
    return size


def _sample_list(data_samples, n: int) -> List[dict]:
    """Per-sample dicts from what a collate function made of them (dict of lists / tensors, or list of dicts)."""
    if data_samples is None:
        return [{} for _ in range(n)]
    if isinstance(data_samples, dict):
        out = [{} for _ in range(n)]
        for k, v in data_samples.items():
            for i in range(n):
                item = v[i]
                out[i][k] = item.item() if torch.is_tensor(item) and item.numel() == 1 else item
        return out
    return [dict(s) for s in data_samples]


@MODELS.register_module()
class RTM(BaseModel):
    """RTMtp / RTMta (Gao & Nevatia 2018) + optional non-local blocks.

    Args:
        num_classes: training identities (Mars 625, iLIDS-VID 150, PRID2011 89).
        temporal: 'tp' (temporal pooling: mean of the spatially pooled frame features) or 'ta' (temporal attention:
            conv over the whole frame map to 256 + ReLU, temporal conv 256 -> 1 kernel 3 + ReLU, softmax over T,
            weighted sum of the pooled frame features).
        backbone: ``timm.create_model`` arguments (``name`` first); the classifier and global pooling are removed.
        pretrained: a local ImageNet weight file for the backbone (see :func:`load_backbone_weights`), or None.
        nonlocal_blocks: block configs as for :func:`~snl_plugins.insert_nonlocal` (``type``, ``at``, ``position``,
            block arguments) with ``dim=2`` (default; a block per frame) or ``dim=3`` (one block over the clip's
            T x H x W maps at that place, see :class:`ClipNonlocal`). Inserted after the ImageNet weights are loaded.
        bnneck: BatchNorm1d between the feature and a bias-free classifier (Luo et al. 2019); the triplet loss then
            takes the feature before it and the test feature is the one after it. Off in the original.
        frame_size: (H, W) of the training frames; sets the attention conv's kernel (the whole frame map, 7 x 4 for
            224 x 112). Test frames must have the same size with 'ta'.
        loss_ce / loss_triplet: loss configs (``build_loss``); ``None`` switches one off. Weights in
            ``loss_weights=(ce, triplet)``.
        test_clips_per_forward: clips per backbone forward at test time (tracklets hold up to hundreds).
    """

    def __init__(self, num_classes: int, temporal: str = 'tp', backbone: Optional[dict] = None,
                 pretrained: Optional[str] = None, nonlocal_blocks: Sequence[dict] = (), bnneck: bool = False,
                 frame_size: Tuple[int, int] = (224, 112), att_channels: int = 256,
                 loss_ce: Optional[dict] = dict(type='CrossEntropyLoss', label_smoothing=0.1),
                 loss_triplet: Optional[dict] = dict(type='BatchHardTripletLoss', margin=0.3),
                 loss_weights: Tuple[float, float] = (1.0, 1.0), test_clips_per_forward: int = 32,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        data_preprocessor = dict(type='ClipDataPreprocessor') if data_preprocessor is None else \
            dict(dict(type='ClipDataPreprocessor'), **data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if temporal not in ('tp', 'ta'):
            raise ValueError(f"temporal must be 'tp' (pooling) or 'ta' (attention), got {temporal!r}")
        if int(num_classes) < 1:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        import timm
        kwargs = copy.deepcopy(dict(backbone or dict(name='resnet50')))
        name = kwargs.pop('name', None) or kwargs.pop('model_name', None)
        if name is None:
            raise KeyError("RTM: backbone=dict(name='<timm model name>', ...) is required")
        kwargs.update(num_classes=0, global_pool='')
        kwargs.setdefault('pretrained', False)
        self.backbone = timm.create_model(name, **kwargs)
        if pretrained:
            load_backbone_weights(self.backbone, pretrained)
        # the Runner calls init_weights() on every child that has one: timm's would re-initialise the ImageNet
        # weights (and the blocks initialise themselves when built)
        self.backbone.is_init = True
        self.nonlocal_blocks = self._insert(nonlocal_blocks)

        self.temporal, self.num_classes = temporal, int(num_classes)
        self.feat_dim = int(self.backbone.num_features)
        self.frame_size = tuple(int(s) for s in frame_size)
        if temporal == 'ta':
            kernel = tuple(_map_size(s) for s in self.frame_size)
            self.attention_conv = nn.Conv2d(self.feat_dim, att_channels, kernel)
            self.attention_tconv = nn.Conv1d(att_channels, 1, 3, padding=1)
        self.bnneck = nn.BatchNorm1d(self.feat_dim) if bnneck else None
        if self.bnneck is not None:
            self.bnneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(self.feat_dim, self.num_classes, bias=not bnneck)
        self.loss_ce = build_loss(loss_ce) if loss_ce is not None else None
        self.loss_triplet = build_loss(loss_triplet) if loss_triplet is not None else None
        if self.loss_ce is None and self.loss_triplet is None:
            raise ValueError('RTM needs at least one of loss_ce and loss_triplet')
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.test_clips_per_forward = max(int(test_clips_per_forward), 1)

    def _insert(self, blocks: Sequence[dict]) -> Dict[str, nn.Module]:
        specs = []
        for spec in blocks or ():
            cfg = dict(spec)
            dim = cfg.pop('dim', 2)
            if dim == 3:
                keep = {k: cfg.pop(k) for k in ('at', 'position') if k in cfg}
                cfg = dict(type='ClipNonlocal', block=cfg, **keep)
            elif dim != 2:
                raise ValueError(f'a non-local block in RTM has dim=2 (per frame) or dim=3 (over the clip), got {dim}')
            specs.append(cfg)
        return insert_nonlocal(self.backbone, specs) if specs else {}

    # --- features ----------------------------------------------------------------------------------------------------
    def clip_features(self, clips: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(feature for the triplet loss, feature after the BN-neck or the same) of clips B x T x C x H x W."""
        if clips.dim() != 5:
            raise ValueError(f'RTM expects clips B x T x C x H x W, got shape {tuple(clips.shape)}')
        b, t = clips.shape[:2]
        for m in self.backbone.modules():
            if isinstance(m, ClipNonlocal):
                m.clip_len = t
        maps = self.backbone.forward_features(clips.flatten(0, 1))  # B*T x D x h x w
        pooled = maps.mean((2, 3)).view(b, t, -1)
        if self.temporal == 'tp':
            feat = pooled.mean(1)
        else:
            if tuple(maps.shape[2:]) != self.attention_conv.kernel_size:
                raise ValueError(f'RTMta was built for frames of {self.frame_size} (maps of '
                                 f'{self.attention_conv.kernel_size}), got maps of {tuple(maps.shape[2:])} from frames '
                                 f'of {tuple(clips.shape[-2:])}: set frame_size to the frame size')
            a = F.relu(self.attention_conv(maps)).view(b, t, -1).transpose(1, 2)  # B x 256 x T
            a = F.relu(self.attention_tconv(a)).view(b, t)
            a = F.softmax(a, dim=1)
            feat = (a.unsqueeze(-1) * pooled).sum(1)
        return feat, (self.bnneck(feat) if self.bnneck is not None else feat)

    @torch.no_grad()
    def tracklet_features(self, inputs) -> torch.Tensor:
        """One feature per tracklet: the mean of its clip features (clips N x T x C x H x W per tracklet)."""
        if torch.is_tensor(inputs):
            inputs = list(inputs.unsqueeze(1) if inputs.dim() == 5 else inputs)  # B clips, or B x N clips
        tracks = [x.unsqueeze(0) if x.dim() == 4 else x for x in inputs]
        counts = [len(x) for x in tracks]
        clips = torch.cat(tracks)
        feats = [self.clip_features(clips[s:s + self.test_clips_per_forward])[1]
                 for s in range(0, len(clips), self.test_clips_per_forward)]
        feats = torch.cat(feats).float()
        return torch.stack([f.mean(0) for f in feats.split(counts)])

    # --- mmengine ----------------------------------------------------------------------------------------------------
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            if isinstance(inputs, (list, tuple)) or inputs.dim() == 6:
                return self.tracklet_features(inputs)
            return self.clip_features(inputs)[1]
        raise RuntimeError(f'Invalid mode {mode!r}: use "tensor", "loss" or "predict"')

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        labels = labels_from_samples(data_samples, inputs.device)
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f'identity labels range from {int(labels.min())} to {int(labels.max())}, but RTM has '
                             f'num_classes={self.num_classes}: set it to the number of training identities')
        feat, neck = self.clip_features(inputs)
        losses = {}
        logits = self.classifier(neck)
        if self.loss_ce is not None:
            losses['loss_ce'] = self.loss_weights[0] * self.loss_ce(logits, labels)
        if self.loss_triplet is not None:
            losses['loss_triplet'] = self.loss_weights[1] * self.loss_triplet(feat, labels)
        losses['acc'] = (logits.detach().argmax(1) == labels).float().mean()
        return losses

    def predict(self, inputs, data_samples=None) -> List[dict]:
        feats = self.tracklet_features(inputs).cpu()
        out = []
        for f, s in zip(feats, _sample_list(data_samples, len(feats))):
            out.append(dict(s, feat=f))
        return out
