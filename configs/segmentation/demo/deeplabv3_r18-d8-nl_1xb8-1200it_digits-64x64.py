# `make demo` (the digit scenes): the same DeepLabV3-R18 with the non-local block of Wang et al. (embedded
# Gaussian, its paper's form) before the last residual block of res4 (layer3.-1), as in the VOC configs; the
# position, norm and schedule are the same for NL, SNL and gSNL.
_base_ = './deeplabv3_r18-d8_1xb8-1200it_digits-64x64.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='InjectNonlocal',
        module={{_base_.model.backbone}},
        blocks=[dict(type='NL', at='layer3.-1', position='before', norm_cfg=dict(type='BN', requires_grad=True))]))
