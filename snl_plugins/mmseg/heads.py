"""``NonlocalHead``: mmseg's ``NLHead`` with any of our blocks (SNL, gSNL, NL, NS, A2, CGNL, NonlocalStage) in its
place: FCNHead with two 3x3 convs and the block between them (conv -> block -> conv [-> concat input] -> classifier)."""
from typing import Optional

import torch
from mmseg.models.decode_heads.fcn_head import FCNHead
from mmseg.registry import MODELS

from ..inject import build_block

__all__ = ['NonlocalHead']


@MODELS.register_module()
class NonlocalHead(FCNHead):
    """Decode head with a non-local block between its two convs, as mmseg's ``NLHead`` (``nonlocal_net``).

    Args:
        block (dict): the block's config, e.g. ``dict(type='SNL')``, ``dict(type='gSNL', reduction=2)``,
            ``dict(type='NonlocalStage', unit='gSNL', num_units=1)``; ``in_channels`` (the head's ``channels``) and
            ``dim`` (2) are filled in, ``norm_cfg`` defaults to the head's (as NLHead passes its ``norm_cfg`` to
            mmcv's ``NonLocal2d``). The authors' own head used ``relu=True, zero_init=False`` (BN weight 1, then a
            ReLU); the default here is each block's identity start, like ``NonLocal2d(zero_init=True)``.
        **kwargs: FCNHead's arguments (``num_convs`` is 2, as in NLHead).
    """

    def __init__(self, block: Optional[dict] = None, **kwargs):
        if 'num_convs' in kwargs and kwargs['num_convs'] != 2:
            raise ValueError(f'NonlocalHead has two convs with the block between them (as NLHead); got '
                             f'num_convs={kwargs["num_convs"]}')
        kwargs['num_convs'] = 2
        super().__init__(**kwargs)
        block = dict(type='SNL') if block is None else dict(block)
        if 'type' not in block:
            raise ValueError(f'NonlocalHead: block needs a "type" (SNL, gSNL, NL, NS, A2, CGNL, NonlocalStage or a '
                             f'module in MODELS), got {block}')
        if self.norm_cfg is not None:
            block.setdefault('norm_cfg', dict(self.norm_cfg))
        self.block_cfg = dict(block)
        self.nl_block = build_block(block, self.channels, 2)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        output = self.convs[0](x)
        output = self.nl_block(output)
        output = self.convs[1](output)
        if self.concat_input:
            output = self.conv_cat(torch.cat([x, output], dim=1))
        return self.cls_seg(output)
