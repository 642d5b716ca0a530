"""Non-local blocks as ``nn.Module``s (torch alone; ``snl_plugins.engine`` registers them in mmengine's root
``MODELS`` under their class names when ``snl_plugins`` is imported with mmengine installed)."""
from .a2 import A2
from .base import AffinityEmbedding, NonlocalBlock, NonlocalModule
from .capture import capture_affinities, nonlocal_modules
from .cgnl import CGNL
from .nl import NL, NS
from .norm import build_block_norm, build_norm_layer
from .snl import SNL, gSNL
from .stage import STAGE_UNITS, NonlocalStage

BLOCKS = {'SNL': SNL, 'gSNL': gSNL, 'NL': NL, 'NS': NS, 'A2': A2, 'CGNL': CGNL, 'NonlocalStage': NonlocalStage}

__all__ = ['A2', 'AffinityEmbedding', 'BLOCKS', 'CGNL', 'NL', 'NS', 'NonlocalBlock', 'NonlocalModule', 'NonlocalStage',
           'SNL', 'STAGE_UNITS', 'build_block_norm', 'build_norm_layer', 'capture_affinities', 'gSNL',
           'nonlocal_modules']
