# SNL through mmseg's own plugin mechanism (ResNetV1c's `plugins=`), not InjectNonlocal: one SNL block inside every
# bottleneck of res4 (layer3: 6 units in ResNet-50), after conv3 + norm3 and before the residual addition, named
# `backbone.layer3.<i>.snl`. This is OpenMMLab's placement grammar (stages x position in the unit), not the paper's
# (one block before the last unit of res4: deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py); each block starts as
# the identity, so mmseg's ImageNet ResNet-50 loads with only the blocks missing. docs/plugins.md compares the
# two routes. Otherwise mmseg's deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py.
_base_ = './deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        plugins=[dict(cfg=dict(type='SNL', reduction=2, norm_cfg=norm_cfg), stages=(False, False, True, False),
                      position='after_conv3')]))
