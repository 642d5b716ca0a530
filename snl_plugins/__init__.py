"""Spectral non-local blocks (SNL, gSNL) and their baselines, as plug-ins for timm and OpenMMLab."""
from . import compat

compat.apply()  # workarounds for upstream defects, each only where present (see snl_plugins/compat/)

import importlib
import importlib.util
import warnings
from typing import Tuple

from . import ops
from .blocks import (A2, BLOCKS, CGNL, NL, NS, SNL, NonlocalBlock, NonlocalModule, NonlocalStage, capture_affinities,
                     gSNL, nonlocal_modules)
from .inject import inject_nonlocal, insert_nonlocal

__version__ = '0.1.0'


def _register_adapter(hosts: Tuple[str, ...], *adapters: str) -> None:
    """Import host adapters that are cheap to register; where a host is not installed they are skipped, and one that
    does not import (a broken or too old install) is reported, never an ImportError at ``import snl_plugins``."""
    if any(importlib.util.find_spec(host) is None for host in hosts):
        return
    for adapter in adapters:
        try:
            importlib.import_module(f'{__name__}.{adapter}')
        except ImportError as err:
            warnings.warn(f'snl_plugins.{adapter} is not registered: {err}', stacklevel=2)


# the blocks and InjectNonlocal in mmengine's root MODELS; CPUAmpOptimWrapper in its OPTIM_WRAPPERS
_register_adapter(('mmengine',), 'engine')
_register_adapter(('timm',), 'timm')  # timm model names (*_snl, preresnet*)
_register_adapter(('timm', 'mmengine'), 'cls')  # TimmClassifier, data sets, metrics
_register_adapter(('mmengine', 'mmaction'), 'mmaction')  # ResNetP3D in mmaction2's MODELS (mmaction.registry only)
_register_adapter(('mmengine',), 'reid')  # video re-ID: RTM, Mars/iLIDSVID/PRID2011, identity sampler, metric (~40 ms)

__all__ = ['A2', 'BLOCKS', 'CGNL', 'NL', 'NS', 'NonlocalBlock', 'NonlocalModule', 'NonlocalStage', 'SNL',
           'capture_affinities', 'gSNL', 'inject_nonlocal', 'insert_nonlocal', 'nonlocal_modules', 'ops']
