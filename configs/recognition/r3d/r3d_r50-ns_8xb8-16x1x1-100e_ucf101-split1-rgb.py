_base_ = ['../i3d/i3d_r50-ns_8xb8-32x2x1-100e_ucf101-split1-rgb.py', '../_base_/r3d_r50_16x1x1_112.py']
# Table 8 row "+ NS" on Hara et al.'s 3D ResNet-50 (3x3x3 kernels; ../_base_/r3d_r50_16x1x1_112.py): the block of
# i3d/i3d_r50-ns_..._ucf101-split1-rgb.py (before `layer3.-1`, the last block of res4) in that backbone, fine-tuned
# from the Kinetics-400 3D ResNet-50 (r3d_r50_8xb8-16x1x1-100e_kinetics400-rgb.py; only the block is new).
model = dict(backbone=dict(module={{_base_.r3d_backbone}}))
load_from = {{_base_.kinetics400_r3d_r50}}
train_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_val_pipeline}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.r3d_test_pipeline}}))
