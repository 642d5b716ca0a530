"""VTN (Kozlov et al. 2019) as an mmaction2 head, ``VTNHead``: ``Recognizer2D`` + a per-frame 2D ``ResNet(depth=34)``
+ VTN's temporal encoder (:class:`snl_plugins.mmaction.vtn_encoder.VTNEncoder`) + a per-step classifier averaged over T.

The attention of every encoder layer is ``attention=dict(...)``: VTN's multi-head self-attention (default) or one of
our blocks in 1D over T (``dict(type='SNL', reduction=2)``: the paper's "VTN + SNL"). Clips are ``clip_len`` frames;
``Recognizer2D`` hands the head the N * num_clips * clip_len frame maps and ``num_segs = num_clips * clip_len``, so a
multi-clip test gives one score per clip, which mmaction2's ``average_clips`` averages into the video's.
"""
from typing import Optional

from mmaction.models.heads import BaseHead
from mmengine.model.weight_init import normal_init
from torch import Tensor, nn

from .vtn_encoder import VTNEncoder
from .registry import MODELS

__all__ = ['VTNHead']


@MODELS.register_module()
class VTNHead(BaseHead):
    """VTN's temporal part as a head for ``Recognizer2D``.

    ``(N*T, C, H, W)`` frame maps -> spatial average -> ``(N, T, C)`` -> optional linear to ``embed_channels`` (VTN's
    1x1 ``reduce_conv``, which commutes with the average) -> encoder -> ``fc_cls`` on every step -> mean over T.

    Args:
        num_classes, in_channels: as every mmaction2 head (``in_channels`` = the backbone's, 512 for ResNet-34).
        clip_len: frames per clip (16 in VTN); also the rows of the position embedding.
        embed_channels: the encoder width (512 in VTN).
        num_layers, ffn_channels, dropout, attention: see :class:`snl_plugins.mmaction.vtn_encoder.VTNEncoder`.
        init_std: std of ``fc_cls``'s normal initialisation (0.02 in VTN; bias 0).
        kwargs: ``BaseHead``'s (``loss_cls``, ``average_clips``, ``topk``, ...).
    """

    def __init__(self, num_classes: int, in_channels: int, clip_len: int = 16, embed_channels: int = 512,
                 num_layers: int = 4, ffn_channels: int = 1024, dropout: float = 0.1,
                 attention: Optional[dict] = None, init_std: float = 0.02, **kwargs):
        super().__init__(num_classes, in_channels, **kwargs)
        self.clip_len = clip_len
        self.init_std = init_std
        self.reduce = nn.Linear(in_channels, embed_channels) if in_channels != embed_channels else nn.Identity()
        self.encoder = VTNEncoder(embed_channels, num_layers, clip_len, ffn_channels, dropout, attention)
        self.fc_cls = nn.Linear(embed_channels, num_classes)

    def init_weights(self) -> None:
        """The encoder initialised itself as VTN does; ``fc_cls`` as VTN's ``fc``."""
        normal_init(self.fc_cls, std=self.init_std)

    def forward(self, x: Tensor, num_segs: int, **kwargs) -> Tensor:
        """(N * num_segs, C, H, W) -> per-clip scores (N * num_segs / clip_len, num_classes)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'VTNHead(in_channels={self.in_channels}) expects per-frame maps (N*T, '
                             f'{self.in_channels}, H, W) from a 2D backbone, got shape {tuple(x.shape)}')
        if num_segs % self.clip_len or x.shape[0] % num_segs:
            raise ValueError(f'VTNHead(clip_len={self.clip_len}): {x.shape[0]} frames in groups of num_segs='
                             f'{num_segs} are not whole clips (SampleFrames clip_len must match the head\'s)')
        features = self.reduce(x.mean((2, 3)).view(-1, self.clip_len, self.in_channels))
        return self.fc_cls(self.encoder(features)).mean(1)

    def loss(self, feats: Tensor, data_samples, **kwargs) -> dict:
        """As ``BaseHead.loss``, on each video's clip scores averaged (training clips usually come one per video)."""
        cls_scores = self(feats, **kwargs)
        return self.loss_by_feat(cls_scores.view(len(data_samples), -1, self.num_classes).mean(1), data_samples)
