_base_ = [
    '../../_base_/datasets/cub200_bs64.py',
    '../../_base_/schedules/cub_sgd-200e.py',
    '../../_base_/cls_runtime.py',
]

# ResNet-50 fine-tuned on CUB-200-2011 from ImageNet weights: Table 9, row "R-50".
# The ImageNet-1k weights of timm's `resnet50`, as a local file (.pth / .safetensors state dict, loaded by timm with
# weights_only=True; its 1000-class fc is dropped for the 200-class one). Set the path here, once, for every CUB
# config, or per run: --cfg-options model.model.pretrained_cfg_overlay.file=/path/to/resnet50.pth
# (e.g. torchvision's ResNet50_Weights.IMAGENET1K_V1 file = timm's `resnet50.tv_in1k`).
pretrained = 'checkpoints/resnet50_imagenet1k.pth'
model = dict(
    type='TimmClassifier',
    model=dict(
        name='resnet50',
        pretrained=True,
        pretrained_cfg_overlay=dict(file=pretrained),
        num_classes=200),
    loss=dict(type='CrossEntropyLoss'))
