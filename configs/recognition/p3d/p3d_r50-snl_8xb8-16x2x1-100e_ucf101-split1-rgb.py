_base_ = './p3d_r50_8xb8-16x2x1-100e_ucf101-split1-rgb.py'
# P3D-R50 + SNL, Table 14 row "P3D + *SNL": one SNL block (Cs = C1 / 2) right before the last residual block of res3,
# i.e. before `layer2.-1` of ResNetP3D.
model = dict(backbone=dict(_delete_=True, type='InjectNonlocal', module={{_base_.model.backbone}},
                           blocks=[dict(type='SNL', at='layer2.-1', position='before', reduction=2)]))
