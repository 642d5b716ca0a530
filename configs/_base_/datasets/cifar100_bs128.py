# CIFAR-100 (fine labels) read from the python pickles: data_root holds cifar-100-python/ (train, test, meta),
# as https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz unpacks.
_base_ = ['./cifar10_bs128.py']

dataset_type = 'CIFAR100'
data_root = 'data/cifar100'

data_preprocessor = dict(mean=[129.304, 124.070, 112.434], std=[68.170, 65.392, 70.418])

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
