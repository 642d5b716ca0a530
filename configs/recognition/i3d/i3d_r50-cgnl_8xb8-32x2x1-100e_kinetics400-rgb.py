_base_ = './i3d_r50_8xb8-32x2x1-100e_kinetics400-rgb.py'
# I3D-R50 + CGNL: Table 8 row "+ CGNL". One block (Cs = C1 / 2) right before the last residual block of res4, i.e.
# before `layer3.-1` of mmaction2's ResNet3d (in_channels and dim=3 are read from the host).
model = dict(backbone=dict(_delete_=True, type='InjectNonlocal', module={{_base_.model.backbone}},
                           blocks=[dict(type='CGNL', at='layer3.-1', position='before', reduction=2)]))
