"""MARS, the Motion-Augmented RGB Stream (Crasto, Weinzaepfel, Alahari, Schmid, CVPR 2019), as an mmaction2
recognizer, ``MARSRecognizer``, and the key mapping of the authors' checkpoints.

Training loss of the RGB student (as the authors' ``MARS_train.py``)::

    loss = CE(logits, label) + alpha * MSE(pool(student(rgb)), pool(teacher(flow)))

where ``pool`` is the global average of the backbone's last feature map (MARS's ``avgpool`` output, 2048-d for
ResNeXt3D-101), MSE is the mean over batch and channels (``nn.MSELoss()``), alpha = 50, and the teacher is a flow
network trained beforehand with cross-entropy, frozen. RGB and flow of a sample share crop and flip
(:class:`~snl_plugins.mmaction.rgb_flow.WithFlow` in the training pipeline puts the flow clip in each data sample).

The teacher is built from ``teacher_config`` (an mmaction2 config file whose ``model`` is the flow recognizer, or
that model dict) and loads ``teacher_checkpoint`` strictly. It is built when the model switches to training mode
(a wrong path fails before the first iteration), so testing and inference (RGB only: ``predict`` is
``Recognizer3D``'s) need neither file. It is kept out of the student's
module tree on purpose: it is not in ``state_dict()`` (checkpoints hold the student alone and load into a plain
``Recognizer3D``), not in ``parameters()`` (no optimizer sees it), untouched by ``init_weights()`` and ``train()``
(it stays in eval mode), and runs under ``torch.no_grad()``; it follows the student's device when first used.
Flow is normalised by the teacher's own ``data_preprocessor``, so it is fed exactly as it was trained.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from mmaction.models.recognizers import Recognizer3D
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from .registry import MODELS

__all__ = ['MARSRecognizer', 'global_average', 'mars_feature_loss', 'mars_to_mmaction', 'mmaction_to_mars',
           'convert_mars_checkpoint']

AUTHORS_PREFIX = 'module.'  # the authors wrap the network in nn.DataParallel before saving
AUTHORS_FC = 'fc.'
OUR_BACKBONE, OUR_FC = 'backbone.', 'cls_head.fc_cls.'


def global_average(feature_map: Tensor) -> Tensor:
    """N x C x ... -> N x C: the average over all positions (MARS's ``avgpool`` over the whole last map)."""
    return feature_map.flatten(2).mean(-1)


def mars_feature_loss(student: Tensor, teacher: Tensor, alpha: float) -> Tensor:
    """alpha * MSE between pooled student and teacher features (mean over all N x C entries, as nn.MSELoss)."""
    if student.shape != teacher.shape:
        raise ValueError(f'MARS compares student and teacher features of one shape, got {tuple(student.shape)} '
                         f'(RGB student) and {tuple(teacher.shape)} (flow teacher): are both the same backbone, '
                         'and are RGB and flow clips sampled alike?')
    return alpha * F.mse_loss(student, teacher)


def mars_to_mmaction(state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """The authors' keys (``module.conv1.weight``, ``module.fc.bias``) -> a ``Recognizer3D`` / ``MARSRecognizer``
    with ``ResNeXt3d`` + ``I3DHead`` (``backbone.conv1.weight``, ``cls_head.fc_cls.bias``)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        name = key[len(AUTHORS_PREFIX):] if key.startswith(AUTHORS_PREFIX) else key
        out[OUR_FC + name[len(AUTHORS_FC):] if name.startswith(AUTHORS_FC) else OUR_BACKBONE + name] = value
    return out


def mmaction_to_mars(state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """The inverse of :func:`mars_to_mmaction`. Blocks injected into the backbone map like its own layers
    (``module.layer2.snl_before_3.*``), though the authors' network has nothing to load them into."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(OUR_FC):
            out[AUTHORS_PREFIX + AUTHORS_FC + key[len(OUR_FC):]] = value
        elif key.startswith(OUR_BACKBONE):
            out[AUTHORS_PREFIX + key[len(OUR_BACKBONE):]] = value
        else:
            raise KeyError(f'{key!r} belongs to neither the backbone nor the classifier of a MARS network')
    return out


def convert_mars_checkpoint(checkpoint: Mapping) -> dict:
    """An authors' checkpoint (``{'state_dict', 'arch', 'epoch', 'optimizer'}``, or a bare state dict) -> an
    mmengine checkpoint ``{'state_dict': ..., 'meta': ...}`` for ``load_from`` / ``teacher_checkpoint``."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not any(k.endswith('conv1.weight') for k in state_dict):
        raise ValueError(f'not a MARS / 3D-ResNeXt checkpoint: no conv1.weight among {list(state_dict)[:5]} ...')
    meta = {k: checkpoint[k] for k in ('arch', 'epoch') if k in checkpoint}
    return {'state_dict': mars_to_mmaction(state_dict), 'meta': dict(meta, converted_from='craston/MARS')}


@MODELS.register_module()
class MARSRecognizer(Recognizer3D):
    """``Recognizer3D`` trained as MARS: cross-entropy + ``alpha`` x MSE to a frozen flow teacher's pooled features.

    Args:
        backbone, cls_head, train_cfg, test_cfg, data_preprocessor: as ``Recognizer3D`` (no neck: MARS matches
            the backbone's pooled features). Batch blending (MixUp, CutMix) is refused: it would mix the RGB clips
            but not their flow.
        teacher_config: the flow teacher, an mmaction2 config file (its ``model``) or a model config dict.
        teacher_checkpoint: the teacher's trained weights (an mmengine checkpoint; convert the authors' own with
            ``tools/convert/mars_to_mmaction.py``), loaded strictly.
        alpha: weight of the feature loss (50 in MARS).
    """

    def __init__(self, backbone: dict, cls_head: dict, teacher_config: Union[str, dict], teacher_checkpoint: str,
                 alpha: float = 50.0, train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None):
        super().__init__(backbone=backbone, cls_head=cls_head, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor)
        if getattr(self.data_preprocessor, 'blending', None) is not None:
            raise ValueError('MARSRecognizer: batch blending (MixUp / CutMix) would mix RGB clips but not their '
                             'flow; remove `blending` from the data_preprocessor')
        if not isinstance(teacher_config, (str, dict)) or not isinstance(teacher_checkpoint, str):
            raise TypeError('MARSRecognizer needs teacher_config (a config file or a model dict) and '
                            'teacher_checkpoint (a file)')
        self.teacher_config, self.teacher_checkpoint, self.alpha = teacher_config, teacher_checkpoint, float(alpha)
        # set with object.__setattr__: nn.Module would register it as a child (see the module docstring)
        object.__setattr__(self, '_teacher', None)

    @property
    def teacher(self) -> nn.Module:
        """The frozen flow teacher (built and loaded on first access: training mode or the loss)."""
        if self._teacher is None:
            object.__setattr__(self, '_teacher', build_frozen_teacher(self.teacher_config, self.teacher_checkpoint))
        return self._teacher

    def train(self, mode: bool = True) -> 'MARSRecognizer':
        """Switching to training builds the teacher (the training loop does so before its first iteration), so a
        wrong teacher path fails at once, naming the option; evaluation never switches to training mode."""
        if mode:
            self.teacher  # noqa: B018  (the property builds it)
        return super().train(mode)

    @torch.no_grad()
    def teacher_features(self, flow: List[Tensor], device: torch.device) -> Tensor:
        """Pooled teacher features of raw flow clips (each M x 2 x T x H x W uint8), one row per clip."""
        teacher = self.teacher.to(device)
        teacher.eval()  # in case anyone switched it; it never trains
        inputs = teacher.data_preprocessor(dict(inputs=flow, data_samples=None), False)['inputs']
        feats, _ = teacher.extract_feat(inputs, stage='backbone')
        return global_average(feats)

    def loss(self, inputs: Tensor, data_samples: list, **kwargs) -> Dict[str, Tensor]:
        """``loss_cls`` (the head's cross-entropy) and ``loss_mars`` (alpha x MSE to the teacher)."""
        missing = [i for i, s in enumerate(data_samples) if 'flow' not in s]
        if missing:
            raise KeyError('MARSRecognizer.loss needs the flow clip of every sample: wrap the training transforms '
                           "in dict(type='WithFlow', transforms=[...]) and pack it with "
                           f"PackActionInputs(algorithm_keys=('flow',)) (samples without flow: {missing})")
        feats, loss_kwargs = self.extract_feat(inputs, data_samples=data_samples)
        losses = self.cls_head.loss(feats, data_samples, **loss_kwargs)
        teacher = self.teacher_features([s.flow for s in data_samples], inputs.device)
        losses['loss_mars'] = mars_feature_loss(global_average(feats), teacher, self.alpha)
        return losses


def build_frozen_teacher(config: Union[str, dict], checkpoint: str) -> nn.Module:
    """The teacher recognizer from its config, with ``checkpoint`` loaded strictly, in eval mode, frozen."""
    from mmengine.runner.checkpoint import load_checkpoint
    files = ([('teacher_config', config)] if isinstance(config, str) else []) + [('teacher_checkpoint', checkpoint)]
    for option, path in files:
        if not osp.isfile(path):
            raise FileNotFoundError(f'MARSRecognizer: the flow teacher file {path} (model.{option}) does not exist; '
                                    'train the flow config first, or convert the authors\' checkpoint '
                                    '(tools/convert/mars_to_mmaction.py), and set model.teacher_checkpoint')
    cfg = Config.fromfile(config) if isinstance(config, str) else None
    # built in the teacher config's scope (mmaction2's by default), whatever scope the caller left current
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmaction') if cfg else 'mmaction'):
        teacher = MODELS.build(cfg.model if cfg else config)
    load_checkpoint(teacher, checkpoint, map_location='cpu', strict=True)
    teacher.requires_grad_(False)
    return teacher.eval()
