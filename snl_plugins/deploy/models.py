"""The inference model of every family as one ``nn.Module`` of one tensor, which is what an exporter traces.

OpenMMLab models run through ``data_preprocessor`` and ``test_step`` with data samples; a deployed model takes a
tensor and gives a tensor. :func:`inference_model` wraps a built model by family:

=============== ============================================= ===============================================
family          input (batch first)                           output
=============== ============================================= ===============================================
classifier      N x C x H x W images                          N x classes logits (timm, ``TimmClassifier``)
recognizer3d    N x C x T x H x W: one clip per sample        N x classes scores, as ``predict`` gives for
                (mmaction2 3D recognizers: I3D, P3D, ...)     one clip (softmax where ``average_clips='prob'``)
recognizer2d    N x T x C x H x W: one clip of T frames       N x classes scores, as above (VTN, TSN, TSM)
segmentor       N x C x H x W whole images                    N x classes x H x W logits at the input size
                                                              (argmax over dim 1 is mmseg's label map)
reid            N x T x C x H x W clips (``RTM``)             N x D clip features (the test feature)
=============== ============================================= ===============================================

Inputs are what the model's ``data_preprocessor`` hands the network (normalised float images / clips); the
normalisation is recorded in the ONNX file's metadata (:func:`preprocessing`), not put into the graph, as
mmdeploy does for these libraries.
"""
from __future__ import annotations

import difflib
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['FAMILIES', 'BLOCK_PATHS', 'InferenceModel', 'ClassifierInference', 'RecognizerInference',
           'SegmentorInference', 'ReIDInference', 'detect_family', 'inference_model', 'build_timm',
           'build_from_config', 'load_weights', 'set_block_path', 'block_paths', 'preprocessing', 'activate_blocks']

FAMILIES = {
    'classifier': ('N x C x H x W images', 'N x classes logits'),
    'recognizer3d': ('N x C x T x H x W, one clip per sample (NCTHW)',
                     'N x classes scores (the head\'s average_clips: softmax where "prob")'),
    'recognizer2d': ('N x T x C x H x W, one clip of T frames per sample',
                     'N x classes scores (the head\'s average_clips: softmax where "prob")'),
    'segmentor': ('N x C x H x W whole images', 'N x classes x H x W logits at the input size'),
    'reid': ('N x T x C x H x W clips', 'N x D clip features'),
}
# 'config' keeps each block's own setting; the others are set on every block with a path (see set_block_path)
BLOCK_PATHS = ('config', 'auto', 'dense', 'factorised')

# per-sample shapes when neither the user nor the config / timm model says, in each family's input order
_FALLBACK = {'classifier': (3, 224, 224), 'recognizer3d': (3, 8, 112, 112), 'recognizer2d': (8, 3, 112, 112),
             'segmentor': (3, 512, 512), 'reid': (4, 3, 224, 112)}


class ClassifierInference(nn.Module):
    """Logits of a timm model or of our ``TimmClassifier`` (whose ``forward`` defaults to ``mode='tensor'``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class RecognizerInference(nn.Module):
    """One clip per sample through an mmaction2 recognizer: features, head, and the head's clip averaging for one
    clip (softmax where ``average_clips='prob'``, the scores as they are otherwise), i.e. the ``pred_score`` that
    ``predict`` gives for a one-clip test pipeline.

    Args:
        recognizer: a ``Recognizer3D`` (``frames=False``: input N x C x T x H x W) or a ``Recognizer2D``
            (``frames=True``: input N x T x C x H x W, the T frames of one clip).
        frames: whether the recognizer takes frames (its data preprocessor's ``format_shape`` is NCHW).
    """

    def __init__(self, recognizer: nn.Module, frames: bool):
        super().__init__()
        self.recognizer, self.frames = recognizer, frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the recognizers take N x clips x ... ; one clip per sample (num_segs = T frames for a 2D recognizer)
        inputs = x if self.frames else x.unsqueeze(1)
        feats, kwargs = self.recognizer.extract_feat(inputs, test_mode=True)
        head = self.recognizer.cls_head
        scores = head(feats, **kwargs)
        # BaseHead.average_clip over one clip, written without its Python integer arithmetic on the batch size
        # (which would freeze the batch in a traced graph)
        if getattr(head, 'average_clips', None) == 'prob':
            scores = F.softmax(scores, dim=1)
        return scores


class SegmentorInference(nn.Module):
    """Whole-image inference of an mmseg ``EncoderDecoder``: the decode head's logits resized to the input (what
    ``encode_decode`` gives, before mmseg crops padding and resizes to the original image)."""

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        self.segmentor = segmentor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.segmentor.decode_head(self.segmentor.extract_feat(x))
        return F.interpolate(logits, size=x.shape[2:], mode='bilinear', align_corners=self.segmentor.align_corners)


class ReIDInference(nn.Module):
    """The test feature of each clip of an ``RTM`` (after the BN-neck where there is one); a tracklet's feature is
    the mean of its clips' features, which the caller takes (``RTM.tracklet_features``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.clip_features(x)[1]


@dataclass
class InferenceModel:
    """A wrapped model with what export needs to know of it.

    Attributes:
        module: the wrapper (eval mode), ``module(x) -> tensor``.
        family: a key of :data:`FAMILIES`.
        name: the timm name or the config's file name.
        input_shape: the default export input, batch first (from the config's test pipeline or the timm model's
            ``pretrained_cfg``).
        spatial_axes: the input's H and W axes (made dynamic by ``dynamic_shape``).
        output_spatial_axes: the output's axes that follow the input's H and W (a segmentor's logits).
        dynamic_shape_error: why this model cannot take other H x W (None if it can).
        preprocessing: the normalisation the input is expected to have had (``mean``, ``std``, ``bgr_to_rgb``).
    """
    module: nn.Module
    family: str
    name: str
    input_shape: Tuple[int, ...]
    spatial_axes: Tuple[int, int]
    output_spatial_axes: Tuple[int, ...] = ()
    dynamic_shape_error: Optional[str] = None
    preprocessing: Dict[str, object] = field(default_factory=dict)

    @property
    def layout(self) -> str:
        return FAMILIES[self.family][0]

    @property
    def output(self) -> str:
        return FAMILIES[self.family][1]


def _module_of(name: str, attr: str):
    """``sys.modules[name].attr`` if that module is imported, else None: a model of a family only exists once its
    library is imported, so there is no need to import mmaction2 / mmseg to tell."""
    module = sys.modules.get(name)
    return getattr(module, attr, None) if module is not None else None


def detect_family(model: nn.Module) -> str:
    """The key of :data:`FAMILIES` for a built model; raises ``TypeError`` for a model of no known family."""
    from ..analysis.common import input_layout
    layout = input_layout(model)  # re-ID and recognizers; 'image' for the rest
    if layout != 'image':
        return {'tracklet': 'reid', 'video': 'recognizer3d', 'frames': 'recognizer2d'}[layout]
    segmentor = _module_of('mmseg.models.segmentors.encoder_decoder', 'EncoderDecoder')
    if segmentor is not None and isinstance(model, segmentor):
        return 'segmentor'
    classifier = _module_of('snl_plugins.cls.model', 'TimmClassifier')
    if (classifier is not None and isinstance(model, classifier)) or hasattr(model, 'pretrained_cfg'):
        return 'classifier'
    raise TypeError(f'no inference model is known for {type(model).__module__}.{type(model).__name__}: export '
                    'supports timm classifiers and TimmClassifier, mmaction2 recognizers, mmseg EncoderDecoder '
                    'segmentors and the re-ID RTM')


def _timm_model(model: nn.Module) -> nn.Module:
    inner = getattr(model, 'model', None)  # TimmClassifier holds the timm model as .model
    return inner if hasattr(inner, 'pretrained_cfg') else model


def _test_datasets(cfg) -> Iterator[dict]:
    """The config's test, then val, dataset settings (none without a config)."""
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key, None) if cfg is not None else None
        dataset = loader.get('dataset', None) if isinstance(loader, dict) else None
        if isinstance(dataset, dict):
            yield dataset


def _pipeline(cfg) -> List[dict]:
    """The config's test (else val) pipeline, [] if it has none."""
    return next((list(d['pipeline']) for d in _test_datasets(cfg) if d.get('pipeline')), [])


def _size_pair(size) -> Optional[Tuple[int, int]]:
    """(H, W) from an mmcv ``crop_size`` / ``scale`` (an int is square; mmaction2's scales are (W, H))."""
    if isinstance(size, int):
        return (size, size) if size > 0 else None
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size):
        return int(size[1]), int(size[0])
    return None


def _clip_from_pipeline(pipeline: Sequence[dict]) -> Tuple[Optional[int], Optional[Tuple[int, int]]]:
    """(clip_len, (H, W)) of an mmaction2 test pipeline: SampleFrames' clip_len, the last crop's size (else a
    Resize to a fixed size)."""
    clip_len, hw = None, None
    for step in pipeline:
        kind = step.get('type', '')
        if kind.endswith('SampleFrames') and isinstance(step.get('clip_len'), int):
            clip_len = step['clip_len']
        elif kind in ('CenterCrop', 'ThreeCrop', 'TenCrop', 'MultiScaleCrop', 'RandomCrop'):
            hw = _size_pair(step.get('crop_size', step.get('size'))) or hw
        elif kind == 'Resize' and hw is None:
            hw = _size_pair(step.get('scale'))
    return clip_len, hw


def _channels(model: nn.Module, default: int = 3) -> int:
    mean = getattr(getattr(model, 'data_preprocessor', None), 'mean', None)
    return int(mean.numel()) if torch.is_tensor(mean) and mean.numel() > 1 else default


def _default_shape(family: str, model: nn.Module, cfg) -> Tuple[int, ...]:
    """One sample in the model's input layout, from the config where it says, else :data:`_FALLBACK`."""
    fallback = _FALLBACK[family]
    if family == 'classifier':
        size = getattr(_timm_model(model), 'pretrained_cfg', {}).get('input_size')
        return (1, *(tuple(size) if size else fallback))
    if family == 'segmentor':
        hw = None
        if cfg is not None:
            hw = cfg.get('crop_size', None) or cfg.model.get('data_preprocessor', {}).get('size', None)
        h, w = tuple(hw) if hw else fallback[1:]
        return (1, _channels(model), int(h), int(w))
    if family == 'reid':
        t = next((d['seq_len'] for d in _test_datasets(cfg) if isinstance(d.get('seq_len'), int)), fallback[0])
        return (1, t, 3, *model.frame_size)
    clip_len, hw = _clip_from_pipeline(_pipeline(cfg))
    c = _channels(model)
    if family == 'recognizer2d':
        t = getattr(model.cls_head, 'clip_len', None) or clip_len or fallback[0]
        return (1, t, c, *(hw or fallback[2:]))
    return (1, c, clip_len or fallback[1], *(hw or fallback[2:]))


# where the data preprocessors of mmengine, mmseg and mmaction2 keep whether they swap BGR / RGB
_CHANNEL_SWAP = ('_channel_conversion', 'channel_conversion', 'to_rgb')


def preprocessing(model: nn.Module) -> Dict[str, object]:
    """The normalisation the graph's input is expected to have had, which the exported graph does not contain:
    the ``data_preprocessor``'s ``mean`` / ``std`` (of 0-255 pixels) and ``swap_bgr_rgb`` (whether it reverses the
    channel order of what the data pipeline loads), or a timm model's ``pretrained_cfg`` mean / std scaled to 0-255
    pixels; {} where there is neither."""
    pre = getattr(model, 'data_preprocessor', None)
    out: Dict[str, object] = {}
    for key in ('mean', 'std'):
        value = getattr(pre, key, None)
        if torch.is_tensor(value):
            out[key] = [round(float(v), 4) for v in value.flatten()]
    swap = [getattr(pre, k) for k in _CHANNEL_SWAP if isinstance(getattr(pre, k, None), bool)]
    if swap:
        out['swap_bgr_rgb'] = swap[0]
    cfg = getattr(_timm_model(model), 'pretrained_cfg', None)
    if not out and cfg:
        out = {k: [round(float(v) * 255, 4) for v in cfg[k]] for k in ('mean', 'std') if k in cfg}
    return out


def inference_model(model: nn.Module, cfg=None, name: Optional[str] = None) -> InferenceModel:
    """Wrap a built model (eval mode) in its family's inference module (see the module docstring).

    Args:
        model: a timm classifier, ``TimmClassifier``, mmaction2 recognizer, mmseg ``EncoderDecoder`` or ``RTM``.
        cfg: its mmengine config, read for the default input shape (test pipeline, crop size, clip length).
        name: a name for messages and metadata (default: the model's class).
    """
    family = detect_family(model)
    module: nn.Module
    dynamic_shape_error = None
    if family == 'classifier':
        module = ClassifierInference(model)
        spatial = (2, 3)
    elif family in ('recognizer3d', 'recognizer2d'):
        module = RecognizerInference(model, frames=family == 'recognizer2d')
        spatial = (3, 4)
    elif family == 'segmentor':
        module = SegmentorInference(model)
        spatial = (2, 3)
    else:
        module = ReIDInference(model)
        spatial = (3, 4)
        if model.temporal == 'ta':
            dynamic_shape_error = (f'RTMta\'s temporal attention convolves the whole frame map (a kernel of '
                                   f'{tuple(model.attention_conv.kernel_size)} for frames of {model.frame_size}), so '
                                   'it takes frames of that size only: export it without --dynamic-shape')
    return InferenceModel(module=module.eval(), family=family, name=name or type(model).__name__,
                          input_shape=_default_shape(family, model, cfg), spatial_axes=spatial,
                          output_spatial_axes=(2, 3) if family == 'segmentor' else (),
                          dynamic_shape_error=dynamic_shape_error, preprocessing=preprocessing(model))


def load_weights(model: nn.Module, checkpoint: str) -> None:
    """Load a checkpoint (a Runner checkpoint or a plain state dict) into ``model``, strictly; a ``module.`` (DDP) or
    ``model.`` (``TimmClassifier``, into a bare timm model) prefix is removed."""
    from mmengine.runner import load_checkpoint

    import snl_plugins  # noqa: F401  (mmengine checkpoint loading under torch >= 2.6: snl_plugins.compat)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {checkpoint}')
    revise = [(r'^module\.', '')]
    if not isinstance(model, _module_of('mmengine.model', 'BaseModel') or ()):
        revise.append((r'^model\.', ''))
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True, revise_keys=revise)


def build_timm(name: str, checkpoint: Optional[str] = None, **kwargs) -> InferenceModel:
    """A timm model by name (``pretrained=False``; ``checkpoint`` loaded strictly), wrapped for inference.

    An unknown name raises ``ValueError`` listing this package's names (and close timm names)."""
    import timm

    import snl_plugins.timm  # noqa: F401  (our names in timm's registry)
    from ..analysis.complexity import registered_models
    if name not in timm.list_models():
        ours = registered_models()
        close = difflib.get_close_matches(name, list(dict.fromkeys(ours + timm.list_models())), n=5)
        hint = f' Did you mean {", ".join(close)}?' if close else ''
        raise ValueError(f'unknown timm model {name!r}.{hint} This package registers: {", ".join(ours)} (and every '
                         'timm model name works; timm.list_models() lists them)')
    model = timm.create_model(name, pretrained=False, **kwargs)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    return inference_model(model, name=name)


def build_from_config(config: str, checkpoint: Optional[str] = None,
                      cfg_options: Optional[dict] = None) -> InferenceModel:
    """``cfg.model`` of an mmengine config under its scope (``snl_plugins.analysis.common.load_model``: the same
    loading as the analysis tools), ``checkpoint`` loaded strictly, wrapped for inference."""
    from ..analysis.common import load_model
    model, cfg = load_model(config, checkpoint, cfg_options=cfg_options)
    return inference_model(model, cfg, name=osp.splitext(osp.basename(config))[0])


def _path_blocks(module: nn.Module) -> Dict[str, nn.Module]:
    """Blocks and stages that compute their own affinity and so have a ``path`` (units of a stage do not)."""
    from ..blocks import AffinityEmbedding
    return {n: m for n, m in module.named_modules() if isinstance(m, AffinityEmbedding) and not m.shared_affinity}


def set_block_path(module: nn.Module, path: str) -> Dict[str, str]:
    """Set the affinity path of every block of ``module`` that has one; returns ``{block: path it now has}``.

    ``'config'`` changes nothing. ``'factorised'`` exists for the dot kernel only: a block with a softmax kernel
    (NL's embedded Gaussian) keeps its own path, which the returned dict shows.
    """
    from ..ops import SOFTMAX_KERNELS
    if path not in BLOCK_PATHS:
        raise ValueError(f'unknown block path {path!r}; expected one of {", ".join(BLOCK_PATHS)}')
    out = {}
    for name, block in _path_blocks(module).items():
        if path != 'config' and not (path == 'factorised' and block.kernel in SOFTMAX_KERNELS):
            block.path = path
        out[name] = block.path
    return out


@torch.no_grad()
def block_paths(module: nn.Module, x: torch.Tensor) -> List[dict]:
    """What each block computes for input ``x``: its ``path`` setting, the form its affinity took (``dense``,
    ``factorised``, ``fused_softmax``: an exporter traces that form, and a graph keeps it at every input size) and
    the affinity's N x M."""
    from ..blocks import capture_affinities, nonlocal_modules
    paths = {n: m.path for n, m in _path_blocks(module).items()}
    with capture_affinities(module) as records:
        module(x)
    out = []
    for name, block in nonlocal_modules(module).items():
        affinity = records[name][0] if records.get(name) else None
        out.append(dict(block=name, type=type(block).__name__, path=paths.get(name, '-'),
                        form=affinity.form if affinity is not None else '-',
                        positions=list(affinity.shape[1:]) if affinity is not None else None,
                        inter_channels=getattr(block, 'inter_channels', None)))
    return out


@torch.no_grad()
def activate_blocks(module: nn.Module, value: float = 1.0) -> int:
    """Set the weight of every block's output norm to ``value``; returns how many were set.

    A block starts as the identity (its norm zero-initialised), so in an untrained model its branch adds nothing
    and an export check could not see it; a trained block is never the identity. The benchmark and the tests use
    this on models with random weights; a checkpoint's weights are used as they are.
    """
    from ..blocks import NonlocalBlock
    count = 0
    for block in module.modules():
        weight = getattr(getattr(block, 'norm', None), 'weight', None) if isinstance(block, NonlocalBlock) else None
        if weight is not None:
            weight.fill_(value)
            count += 1
    return count
