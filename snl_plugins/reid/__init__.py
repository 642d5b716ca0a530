"""Video person re-identification (the paper's appendix E, Tables 11-13): the RTM models of Gao & Nevatia 2018 with
SNL / gSNL / NL blocks injected per frame (2D) or over the clip (3D), Mars / iLIDS-VID / PRID2011 in their published
layouts, P x K identity sampling (DDP-safe), and CMC / mAP evaluation.

Importing this registers in mmengine's root registries: ``RTM``, ``ClipNonlocal``, ``ClipDataPreprocessor``,
``BatchHardTripletLoss`` (MODELS), ``Mars``, ``iLIDSVID``, ``PRID2011`` (DATASETS), ``RandomIdentitySampler``
(DATA_SAMPLERS) and ``VideoReIDMetric`` (METRICS). Configs: ``configs/reid/``; docs: ``docs/reid.md``.
"""
from .datasets import PRID2011, SAMPLINGS, Mars, VideoReIDDataset, iLIDSVID, sample_clips
from .evaluation import PROTOCOLS, evaluate_features, evaluate_rank, pairwise_distance
from .metric import VideoReIDMetric
from .model import RTM, BatchHardTripletLoss, ClipDataPreprocessor, ClipNonlocal, load_backbone_weights
from .sampler import RandomIdentitySampler
from .transforms import Random2DTranslation, build_clip_transforms

__all__ = ['BatchHardTripletLoss', 'ClipDataPreprocessor', 'ClipNonlocal', 'Mars', 'PRID2011', 'PROTOCOLS', 'RTM',
           'Random2DTranslation', 'RandomIdentitySampler', 'SAMPLINGS', 'VideoReIDDataset', 'VideoReIDMetric',
           'build_clip_transforms', 'evaluate_features', 'evaluate_rank', 'iLIDSVID', 'load_backbone_weights',
           'pairwise_distance', 'sample_clips']
