_base_ = [
    './_base_/datasets/ilidsvid_p8k4-t4.py',
    './_base_/schedule_adam-800e.py',
    './_base_/reid_runtime.py',
]

# RTMta (temporal attention) on an ImageNet ResNet-50 (Gao & Nevatia 2018): Table 12, row "RTMta".
# The ImageNet weights are a local file: timm's `resnet50` or torchvision's ResNet50_Weights.IMAGENET1K_V1 state dict
# (the same names). Set it here or per run: --cfg-options model.pretrained=/path/to/resnet50.pth
pretrained = 'checkpoints/resnet50_imagenet1k.pth'
model = dict(
    type='RTM',
    temporal='ta',
    num_classes={{_base_.num_identities}},
    backbone=dict(name='resnet50'),
    pretrained=pretrained,
    frame_size={{_base_.frame_size}},
    bnneck=False,  # no BN-neck in the original
    loss_ce=dict(type='CrossEntropyLoss', label_smoothing=0.1),
    loss_triplet=dict(type='BatchHardTripletLoss', margin=0.3),
    test_clips_per_forward=32,
    data_preprocessor=dict(type='ClipDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
