# A2 inserted before the last residual block of res4 (layer3.-1) of ResNet-50; otherwise mmseg's
# deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py.
_base_ = './deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,
        type='InjectNonlocal',
        module={{_base_.model.backbone}},
        blocks=[dict(type='A2', at='layer3.-1', position='before', norm_cfg=norm_cfg)]))
