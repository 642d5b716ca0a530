# Baseline (no block), the paper's VOC2012 setting (appendix C, Table 10): DeepLabV3+ R50 at output stride 16,
# VOC train + SBD aug (10582 images), crop 513, 50 epochs of batch 4, SGD lr 0.007 (x10 in the decode head, as
# pytorch-deeplab-xception, whose VOC defaults these are), poly (power 0.9), momentum 0.9, weight decay 5e-4, no
# auxiliary head. Built on mmseg's DeepLabV3+ R50-D8 VOC config, inherited unmodified and overridden here.
_base_ = 'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py'
# snl_plugins: blocks and InjectNonlocal (core), FwIoUMetric / NonlocalHead / mask checks (snl_plugins.mmseg)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmseg'], allow_failed_imports=False)

crop_size = (513, 513)
model = dict(
    data_preprocessor=dict(size=crop_size),
    # output stride 16 (mmseg's -d16 style): res5 dilated, res4 strided
    backbone=dict(dilations=(1, 1, 1, 2), strides=(1, 2, 2, 1)),
    # ASPP rates for output stride 16
    decode_head=dict(dilations=(1, 6, 12, 18)),
    auxiliary_head=None)

data_root = 'data/VOCdevkit/VOC2012'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 513), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 513), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
_voc_train = dict(type='PascalVOCDataset', data_root=data_root, ann_file='ImageSets/Segmentation/train.txt',
                  data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'), pipeline=train_pipeline)
_sbd_aug = dict(type='PascalVOCDataset', data_root=data_root, ann_file='ImageSets/Segmentation/aug.txt',
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'), pipeline=train_pipeline)
train_dataloader = dict(batch_size=4, dataset=dict(type='CheckedConcatDataset', datasets=[_voc_train, _sbd_aug]))
val_dataloader = dict(dataset=dict(type='CheckedPascalVOCDataset', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FwIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

iters_per_epoch = 2646  # ceil(10582 / 4)
max_iters = 50 * iters_per_epoch
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.007, momentum=0.9, weight_decay=5e-4, nesterov=False),
    clip_grad=None,
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=iters_per_epoch)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=5 * iters_per_epoch,
                                     max_keep_ckpts=2, save_best='mIoU'))
# lr 0.007 is for 4 images per step (the paper's code scales it linearly with the batch): --auto-scale-lr style
auto_scale_lr = dict(enable=False, base_batch_size=4)
