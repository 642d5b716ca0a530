# CGNL inserted before the last residual block of res4 (layer3.-1) of ResNet-50; otherwise the paper's setting of
# deeplabv3plus_r50-d16_1xb4-50e_voc12aug-513x513.py.
_base_ = './deeplabv3plus_r50-d16_1xb4-50e_voc12aug-513x513.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,
        type='InjectNonlocal',
        module={{_base_.model.backbone}},
        blocks=[dict(type='CGNL', at='layer3.-1', position='before', norm_cfg=norm_cfg)]))
