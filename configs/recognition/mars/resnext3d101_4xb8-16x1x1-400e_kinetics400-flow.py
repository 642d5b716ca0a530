_base_ = 'mmaction::recognition/slowonly/slowonly_r50_8xb16-16x4x1-256e_kinetics400-flow.py'
# MARS's flow stream (Crasto et al. 2019, craston/MARS train.py --modality Flow): ResNeXt3D-101 (snl_plugins' ResNeXt3d)
# on 2-channel TV-L1 flow, cross-entropy, from scratch on Kinetics-400. It is the frozen teacher of the MARS configs.
# Data set, evaluator and runtime are mmaction2's SlowOnly flow config (rawframes: img_/x_/y_ JPEGs in one directory
# per video, `{}_{:05d}.jpg` flow names); the rest follows the authors' code.
model = dict(
    backbone=dict(_delete_=True, type='ResNeXt3d', depth=101, in_channels=2),
    # global average + fc, no dropout; test clips averaged as logits, as in MARS's test_single_stream.py
    cls_head=dict(in_channels=2048, num_classes=400, dropout_ratio=0.0, average_clips='score'),
    # flow JPEGs (0..255, no motion = 127.5) minus 127.5, not scaled (MARS's Normalize([127.5], [1]))
    data_preprocessor=dict(mean=[127.5, 127.5], std=[1, 1]))

# 16 consecutive frames at 112 x 112 (frames stored with the short side 256, as MARS extracts them). Training: MARS's
# multi-scale corner crop (a square of 1, 2^-1/4, 2^-1/2, 2^-3/4 or 1/2 of the short side at a corner or the centre,
# resized to 112) and a horizontal flip that inverts flow-x (FlowAwareFlip: mmaction2 1.2.0's Flip gets H x W x 2 flow
# frames wrong). Validation / test: short side 112, centre crop 112.
mars_scales = (1, 1 / 2**0.25, 1 / 2**0.5, 1 / 2**0.75, 1 / 2)
mars_augment = [  # decoding to formatting; the MARS configs run the same steps on RGB and flow (WithFlow)
    dict(type='RawFrameDecode'),
    dict(type='MultiScaleCrop', input_size=112, scales=mars_scales, random_crop=False, max_wh_scale_gap=0),
    dict(type='Resize', scale=(112, 112), keep_ratio=False),
    dict(type='FlowAwareFlip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW')
]
train_pipeline = [dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=1), *mars_augment,
                  dict(type='PackActionInputs')]
val_pipeline = [
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=1, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 112)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# MARS tests on every consecutive 16-frame clip of a video; 10 clips spread over the video here
test_pipeline = [
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=10, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, 112)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# the authors' batch of 32 (train.py --batch_size 32) as 4 GPUs x 8
# mmaction2's data set with its list checked when built (labels in [0, num_classes), no line without one) and
# decode errors naming the file and list line (snl_plugins.mmaction.datasets)
checked = dict(type='CheckedRawframeDataset', num_classes=400)
train_dataloader = dict(batch_size=8, dataset=dict(**checked, pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(**checked, pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(**checked, pipeline=test_pipeline))

# MARS's optimiser: SGD momentum 0.9, dampening 0.9, lr 0.1, weight decay 1e-3, no gradient clipping; lr x 0.1 when the
# validation score stops improving for 10 epochs (the authors watch the validation loss, which mmaction2's ValLoop
# does not compute: top-1 accuracy is watched instead), up to their default of 400 epochs.
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.1, momentum=0.9, dampening=0.9, weight_decay=1e-3))
param_scheduler = [dict(type='ReduceOnPlateauLR', monitor='acc/top1', rule='greater', factor=0.1, patience=10,
                        by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=400, val_begin=1, val_interval=1)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=2, max_keep_ckpts=3))  # atomic, exact resume
auto_scale_lr = dict(enable=False, base_batch_size=32)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.datasets'], allow_failed_imports=False)
