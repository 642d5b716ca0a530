_base_ = ['mmaction::recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py',
          '../_base_/pretrained.py']
# ResNet34-VTN (Kozlov et al. 2019; snl_plugins' VTNHead) on Kinetics-400 from a local ImageNet ResNet-34, Table 14's
# "VTN" host. mmaction2's TSN config (inherited, unmodified) gives Recognizer2D, the data preprocessor (ImageNet mean /
# std), the data set paths, runtime and evaluator; the backbone, head, clips and schedule are VTN's.
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=34, pretrained={{_base_.imagenet_resnet34}}, norm_eval=False),
    cls_head=dict(_delete_=True, type='VTNHead', num_classes=400, in_channels=512, clip_len=16, num_layers=4,
                  embed_channels=512, ffn_channels=1024, dropout=0.1,
                  attention=dict(type='MultiHeadSelfAttention', num_heads=8), average_clips='prob'))

# VTN's clips: 16 frames, every second frame; training crops as VTN's (short side 256 = 224 * 8 / 7, multi-scale
# crop to 224, horizontal flip), validation / test a 224 centre crop of the short side scaled to 224; 10 clips a
# video at test time (VTN's n_test_clips), clip scores averaged as probabilities.
file_client_args = dict(io_backend='disk')
train_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    # VTN's MultiScaleCrop: scales 2^(-i/4), i = 0..3 (--initial-scale 1, --n-scales 4, --scale-step 2^-1/4), width
    # and height scales at most one step apart, 13 fixed crop positions
    dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.8409, 0.7071, 0.5946), random_crop=False,
         max_wh_scale_gap=1, num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=16, frame_interval=2, num_clips=10, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
# VTN's batch of 32 clips (its README's Kinetics command) as 8 GPUs x 4.
# mmaction2's data set with its list checked when built (labels in [0, num_classes), no line without one) and
# decode errors naming the file and list line (snl_plugins.mmaction.datasets)
checked = dict(type='CheckedVideoDataset', num_classes=400)
train_dataloader = dict(batch_size=4, dataset=dict(**checked, pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, dataset=dict(**checked, pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(**checked, pipeline=test_pipeline))

# VTN's solver (its main.py and README): Adam, lr 1e-4, weight decay 1e-4, no gradient clipping, 120 epochs; lr x 0.1
# when validation accuracy has not risen by 0.01 (absolute) for 10 epochs. mmengine's ReduceOnPlateauLR counts
# validations, so with validation every 5 epochs (VTN's) patience=1 is 10 epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=120, val_begin=1, val_interval=5)
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-4))
param_scheduler = [dict(type='ReduceOnPlateauLR', monitor='acc/top1', rule='greater', factor=0.1, patience=1,
                        threshold=0.01, threshold_rule='abs')]
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=5, max_keep_ckpts=3))  # atomic, exact resume
auto_scale_lr = dict(enable=False, base_batch_size=32)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.vtn', 'snl_plugins.mmaction.datasets'],
                      allow_failed_imports=False)
