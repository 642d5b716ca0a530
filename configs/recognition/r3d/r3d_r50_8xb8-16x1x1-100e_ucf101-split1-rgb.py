_base_ = ['../i3d/i3d_r50_8xb8-32x2x1-100e_ucf101-split1-rgb.py', '../_base_/r3d_r50_16x1x1_112.py']
# Table 8 row "I3D" on Hara et al.'s 3D ResNet-50 (the backbone the paper names: 3x3x3 kernels in every block; see
# ../_base_/r3d_r50_16x1x1_112.py), fine-tuned from its Kinetics-400 pre-training
# (r3d_r50_8xb8-16x1x1-100e_kinetics400-rgb.py). Data, schedule and head: the UCF-101 I3D config's.
model = dict(backbone={{_base_.r3d_backbone}})
load_from = {{_base_.kinetics400_r3d_r50}}
train_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_val_pipeline}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_test_pipeline}}))
