_base_ = [
    '../../_base_/datasets/cifar100_bs128.py',
    '../../_base_/schedules/cifar_sgd-300e.py',
    '../../_base_/cls_runtime.py',
]

# ResNet-50 on CIFAR-100 from scratch: Table 7, row "R-50".
# stem='cifar': a 3x3 stride-1 first convolution and no max-pool (the usual ResNet-50-on-CIFAR form; the paper does not
# say which stem it used); with the ImageNet stem a 32x32 image shrinks to 2x2 at layer3, where the block sits.
model = dict(
    type='TimmClassifier',
    model=dict(name='resnet50', pretrained=False, num_classes=100),
    stem='cifar',
    loss=dict(type='CrossEntropyLoss'))
