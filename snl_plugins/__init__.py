"""Spectral non-local blocks (SNL, gSNL) and their baselines, as plug-ins for timm and OpenMMLab."""
from . import compat

compat.apply()  # workarounds for upstream defects, each only where present (see compat.py)

from . import ops
from .blocks import A2, BLOCKS, CGNL, NL, NS, SNL, NonlocalStage, capture_affinities, gSNL, nonlocal_modules

__version__ = '0.1.0'

__all__ = ['A2', 'BLOCKS', 'CGNL', 'NL', 'NS', 'NonlocalStage', 'SNL', 'capture_affinities', 'gSNL',
           'nonlocal_modules', 'ops']
