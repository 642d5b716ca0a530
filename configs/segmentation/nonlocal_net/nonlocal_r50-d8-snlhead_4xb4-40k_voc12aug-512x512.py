# SNL in the decode head in NLHead's place (conv -> SNL -> conv -> classifier); otherwise mmseg's
# nonlocal_r50-d8_4xb4-40k_voc12aug-512x512.py.
_base_ = './nonlocal_r50-d8_4xb4-40k_voc12aug-512x512.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='NonlocalHead',
        block=dict(type='SNL', reduction=2),
        in_channels=2048,
        in_index=3,
        channels=512,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
