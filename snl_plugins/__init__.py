"""Spectral non-local blocks (SNL, gSNL) and their baselines, as plug-ins for timm and OpenMMLab."""
from . import compat

compat.apply()  # workarounds for upstream defects, each only where present (see compat.py)

import importlib.util

from . import ops
from .blocks import A2, BLOCKS, CGNL, NL, NS, SNL, NonlocalStage, capture_affinities, gSNL, nonlocal_modules
from .inject import inject_nonlocal, insert_nonlocal

__version__ = '0.1.0'

# Host adapters register what is cheap to register; a host that is not installed is skipped here and reported
# by the adapter itself when someone imports it.
if importlib.util.find_spec('timm') is not None:
    from . import cls, timm  # noqa: F401  (timm model names; TimmClassifier, data sets, metrics)
if importlib.util.find_spec('mmaction') is not None:
    from . import mmaction  # noqa: F401  (ResNetP3D in mmaction2's MODELS; costs mmaction.registry only)

__all__ = ['A2', 'BLOCKS', 'CGNL', 'NL', 'NS', 'NonlocalStage', 'SNL', 'capture_affinities', 'gSNL',
           'inject_nonlocal', 'insert_nonlocal', 'nonlocal_modules', 'ops']
