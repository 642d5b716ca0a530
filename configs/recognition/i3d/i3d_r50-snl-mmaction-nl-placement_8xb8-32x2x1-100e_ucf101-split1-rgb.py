_base_ = './i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb.py'
# I3D-R50 + SNL at mmaction2's own NL placement (its i3d ...-nl-* configs: non_local=((0, 0, 0), (0, 1, 0, 1),
# (0, 1, 0, 1, 0, 1), (0, 0, 0)), an mmcv NonLocal3d at the end of every other block of res3 and res4), so SNL can be
# compared with mmaction2's NL configs position for position. Not a paper row.
model = dict(backbone=dict(_delete_=True, type='InjectNonlocal', module={{_base_.model.backbone}},
                           blocks=[dict(type='SNL', at='layer2.1', position='after', reduction=2),
                                   dict(type='SNL', at='layer2.3', position='after', reduction=2),
                                   dict(type='SNL', at='layer3.1', position='after', reduction=2),
                                   dict(type='SNL', at='layer3.3', position='after', reduction=2),
                                   dict(type='SNL', at='layer3.5', position='after', reduction=2)]))
