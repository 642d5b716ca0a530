_base_ = './mars_resnext3d101_4xb4-16x1x1-400e_kinetics400-rgb.py'
# MARS + SNL, Table 14 row "MARS + *SNL": one SNL block (Cs = C1 / 2) right before the last residual block of res3,
# i.e. before `layer2.-1` of ResNeXt3d (in the RGB student; the flow teacher is unchanged). In a frozen stage the block
# still trains (ResNeXt3d freezes its own blocks only).
model = dict(backbone=dict(_delete_=True, type='InjectNonlocal', module={{_base_.model.backbone}},
                           blocks=[dict(type='SNL', at='layer2.-1', position='before', reduction=2)]))
