_base_ = [
    '../../_base_/datasets/cifar100_bs128.py',
    '../../_base_/schedules/cifar_sgd-300e.py',
    '../../_base_/cls_runtime.py',
]

# PreResNet-56 (He et al. 2016, CIFAR form) on CIFAR-100 from scratch: row "PR-56" of Tables 2, 3, 4 and 6.
model = dict(
    type='TimmClassifier',
    model=dict(name='preresnet56', pretrained=False, num_classes=100),
    loss=dict(type='CrossEntropyLoss'))
