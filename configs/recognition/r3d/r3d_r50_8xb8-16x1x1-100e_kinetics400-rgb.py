_base_ = ['../i3d/i3d_r50_8xb8-32x2x1-100e_kinetics400-rgb.py', '../_base_/r3d_r50_16x1x1_112.py']
# Hara et al.'s 3D ResNet-50 (3x3x3 kernels in every block; see ../_base_/r3d_r50_16x1x1_112.py) on Kinetics-400, the
# pre-training of the Table 8 rows in r3d/*_ucf101-split1-rgb.py. From scratch, as Hara et al. train it (the I3D
# config inflates an ImageNet ResNet instead). Data lists, checked data set and schedule: the Kinetics-400 I3D config's.
model = dict(backbone={{_base_.r3d_backbone}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_val_pipeline}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_test_pipeline}}))
