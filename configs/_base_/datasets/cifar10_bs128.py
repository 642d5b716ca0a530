# CIFAR-10 read from the python pickle batches: data_root holds cifar-10-batches-py/
# (data_batch_1..5, test_batch, batches.meta), as https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz unpacks.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'

# normalisation on the batch (0-255 scale), done by the model's data preprocessor
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255])

# torchvision.transforms.v2 classes by name, on uint8 CHW tensors
train_pipeline = [
    dict(type='RandomCrop', size=32, padding=4),
    dict(type='RandomHorizontalFlip', p=0.5),
]
test_pipeline = []

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
