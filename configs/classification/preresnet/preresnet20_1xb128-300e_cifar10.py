_base_ = [
    '../../_base_/datasets/cifar10_bs128.py',
    '../../_base_/schedules/cifar_sgd-300e.py',
    '../../_base_/cls_runtime.py',
]

# PreResNet-20 (He et al. 2016, CIFAR form) on CIFAR-10 from scratch: Table 5, row "PR-20".
model = dict(
    type='TimmClassifier',
    model=dict(name='preresnet20', pretrained=False, num_classes=10),
    loss=dict(type='CrossEntropyLoss'))
