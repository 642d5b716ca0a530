# RTM (Gao & Nevatia 2018) on an ImageNet ResNet-50: per-frame features, then temporal pooling ('tp') or temporal
# attention ('ta'); label-smoothed cross-entropy plus batch-hard triplet loss; no BN-neck, as in the original.
# The ImageNet weights are a local file: timm's `resnet50` or torchvision's ResNet50_Weights.IMAGENET1K_V1 state dict
# (the same names). Set it here or per run: --cfg-options model.pretrained=/path/to/resnet50.pth
pretrained = 'checkpoints/resnet50_imagenet1k.pth'
model = dict(
    type='RTM',
    temporal='tp',
    backbone=dict(name='resnet50'),
    pretrained=pretrained,
    bnneck=False,
    loss_ce=dict(type='CrossEntropyLoss', label_smoothing=0.1),
    loss_triplet=dict(type='BatchHardTripletLoss', margin=0.3),
    test_clips_per_forward=32,
    data_preprocessor=dict(type='ClipDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
