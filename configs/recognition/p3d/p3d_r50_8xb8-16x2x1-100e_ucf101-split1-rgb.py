_base_ = ['mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py',
           '../_base_/pretrained.py', '../_base_/p3d_16x2x1_160.py']
# P3D ResNet-50 (Qiu et al. 2017; snl_plugins' ResNetP3D: P3D-A/B/C cycling over res2-res4, res5 2D) on UCF-101
# split 1, Table 14 row "P3D": fine-tuned from a Kinetics-400 P3D (load_from, paper App. F). Runtime, evaluator and
# pipeline steps are mmaction2's I3D config (inherited, unmodified); 16-frame clips at 160 x 160 as in the P3D paper.
model = dict(backbone=dict(_delete_=True, type='ResNetP3D', depth=50, pretrained=None),
             cls_head=dict(num_classes=101, in_channels=2048))
load_from = {{_base_.kinetics400_p3d_r50}}

train_pipeline = {{_base_.p3d_train_pipeline}}
val_pipeline = {{_base_.p3d_val_pipeline}}
test_pipeline = {{_base_.p3d_test_pipeline}}

# UCF-101 split 1 (101 classes): lists written by tools/data/ucf101_to_mmaction.py from the standard layout
# (data/ucf101/UCF-101/<Class>/v_*.avi, data/ucf101/ucfTrainTestlist/).
ucf101_root = 'data/ucf101'
# mmaction2's data set with its list checked when built (labels in [0, num_classes), no line without one) and
# decode errors naming the file and list line (snl_plugins.mmaction.datasets)
checked = dict(type='CheckedVideoDataset', num_classes=101)
train_dataloader = dict(dataset=dict(**checked, ann_file=ucf101_root + '/ucf101_train_split_1_videos.txt',
                                     data_prefix=dict(video=ucf101_root + '/UCF-101'), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(**checked, ann_file=ucf101_root + '/ucf101_val_split_1_videos.txt',
                                   data_prefix=dict(video=ucf101_root + '/UCF-101'), pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(**checked, ann_file=ucf101_root + '/ucf101_val_split_1_videos.txt',
                                    data_prefix=dict(video=ucf101_root + '/UCF-101'), pipeline=test_pipeline))

# The paper's UCF-101 schedule (Sec. 4.1): SGD lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 every 40 epochs,
# 100 epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=5)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[40, 80], gamma=0.1)]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=40, norm_type=2))
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.datasets'], allow_failed_imports=False)
# atomic checkpoint writes, old ones removed after a new one is complete, exact resume (snl_plugins.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
