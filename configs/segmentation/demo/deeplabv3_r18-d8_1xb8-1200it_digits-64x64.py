# `make demo` (the digit scenes): DeepLabV3 with ResNetV1c-18 at half width (base 32 channels) and output stride 8
# (no pretrained weights), 64 x 64 scenes of scikit-learn's digits in VOC layout (snl_plugins.demos.scenes writes
# them): background + 10 digit classes.
# Built on our VOC DeepLabV3 baseline (mmseg's deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py), shrunk for 2 CPU cores.
_base_ = '../deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py'
data_root = 'work_dirs/demo_scenes/data/VOCdevkit/VOC2012'  # where `make demo` writes them
crop_size = (64, 64)
num_classes = 11
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size, mean=[127.5] * 3, std=[64.0] * 3),
    backbone=dict(depth=18, stem_channels=32, base_channels=32, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=256, channels=64, dilations=(1, 2, 4, 6), num_classes=num_classes,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=num_classes, norm_cfg=norm_cfg))

metainfo = dict(classes=('background', ) + tuple(f'digit {d}' for d in range(10)),
                palette=[[0, 0, 0]] + [[(37 * i) % 256, (91 * i + 60) % 256, (151 * i + 120) % 256]
                                       for i in range(1, 11)])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.0),  # digits are not mirror-symmetric: no flips
    dict(type='PackSegInputs')
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                 dict(type='CheckSegMaps', num_classes=num_classes), dict(type='PackSegInputs')]
# BaseSegDataset with VOC's suffixes: PascalVOCDataset only accepts subsets of its 21 classes
_voc = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.jpg', seg_map_suffix='.png',
            data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
_train = dict(_voc,
              ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline)
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(type='CheckedConcatDataset', datasets=[_train]))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(_voc, _delete_=True, ann_file='ImageSets/Segmentation/val.txt',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 1200
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(by_epoch=False, interval=max_iters))
randomness = dict(seed=0)
env_cfg = dict(cudnn_benchmark=False)
