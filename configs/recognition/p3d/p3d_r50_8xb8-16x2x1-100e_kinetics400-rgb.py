_base_ = ['../i3d/i3d_r50_8xb8-32x2x1-100e_kinetics400-rgb.py', '../_base_/p3d_16x2x1_160.py']
# P3D ResNet-50 (ResNetP3D: P3D-A/B/C cycling over res2-res4, res5 2D) on Kinetics-400: the pre-training that the
# Table 14 P3D rows (p3d_r50{,-snl}_8xb8-16x2x1-100e_ucf101-split1-rgb.py) load_from (kinetics400_p3d_r50 in
# ../_base_/pretrained.py). Spatial kernels, stem, 1x1 convs and norms from a local ImageNet ResNet-50
# (pretrained2d=True), temporal convs as the identity over time (ResNetP3D's temporal_init='identity'), as the P3D
# paper initialises from ImageNet. Clips: the P3D UCF-101 config's (16 x 2, 160 x 160). Data lists, checked data set,
# runtime and schedule: the Kinetics-400 I3D config's (the paper gives no Kinetics schedule, the P3D paper none for
# Kinetics either).
model = dict(backbone=dict(_delete_=True, type='ResNetP3D', depth=50, pretrained={{_base_.imagenet_resnet50}},
                           pretrained2d=True),
             cls_head=dict(in_channels=2048))
train_dataloader = dict(dataset=dict(pipeline={{_base_.p3d_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.p3d_val_pipeline}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.p3d_test_pipeline}}))
