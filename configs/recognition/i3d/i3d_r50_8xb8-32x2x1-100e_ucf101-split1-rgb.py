_base_ = ['mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py',
           '../_base_/pretrained.py']
# mmaction2's I3D config (inherited, unmodified) with the paper's data set and schedule.

# I3D-R50 (mmaction2's ResNet3d; Table 8 row "I3D"), fine-tuned from Kinetics-400 (paper Sec. 4.1): the whole
# recognizer starts from the local Kinetics checkpoint (load_from); the cls head (101 classes) is left out of it.
model = dict(backbone=dict(pretrained=None), cls_head=dict(num_classes=101))
load_from = {{_base_.kinetics400_i3d_r50}}

# UCF-101 split 1 (101 classes): lists written by tools/data/ucf101_to_mmaction.py from the standard layout
# (data/ucf101/UCF-101/<Class>/v_*.avi, data/ucf101/ucfTrainTestlist/).
ucf101_root = 'data/ucf101'
# mmaction2's data set with its list checked when built (labels in [0, num_classes), no line without one) and
# decode errors naming the file and list line (snl_plugins.mmaction.datasets)
checked = dict(type='CheckedVideoDataset', num_classes=101)
train_dataloader = dict(dataset=dict(**checked, ann_file=ucf101_root + '/ucf101_train_split_1_videos.txt',
                                     data_prefix=dict(video=ucf101_root + '/UCF-101')))
val_dataloader = dict(dataset=dict(**checked, ann_file=ucf101_root + '/ucf101_val_split_1_videos.txt',
                                   data_prefix=dict(video=ucf101_root + '/UCF-101')))
test_dataloader = dict(dataset=dict(**checked, ann_file=ucf101_root + '/ucf101_val_split_1_videos.txt',
                                    data_prefix=dict(video=ucf101_root + '/UCF-101')))

# The paper's UCF-101 schedule (Sec. 4.1): SGD lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 every 40 epochs,
# 100 epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=5)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[40, 80], gamma=0.1)]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=40, norm_type=2))
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.datasets'], allow_failed_imports=False)
# atomic checkpoint writes, old ones removed after a new one is complete, exact resume (snl_plugins.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
