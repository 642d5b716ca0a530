# CUB-200-2011 read from the release as it unpacks: data_root holds CUB_200_2011/ (images.txt, image_class_labels.txt,
# train_test_split.txt, classes.txt, images/), official train (5,994) / test (5,794) split.
# The paper does not state the input size or batch; these follow the fine-grained practice of CGNL (Yue et al. 2018),
# the baseline the paper compares with on CUB: resize the short side to 512, crop 448, flip.
dataset_type = 'CUB200'
data_root = 'data/cub200'

# ImageNet statistics (the backbone is ImageNet-pretrained)
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])

train_pipeline = [
    dict(type='Resize', size=512, antialias=True),
    dict(type='RandomCrop', size=448),
    dict(type='RandomHorizontalFlip', p=0.5),
]
test_pipeline = [
    dict(type='Resize', size=512, antialias=True),
    dict(type='CenterCrop', size=448),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
