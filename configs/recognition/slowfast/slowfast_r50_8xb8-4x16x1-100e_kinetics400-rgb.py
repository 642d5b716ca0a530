_base_ = ['mmaction::recognition/slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py',
           '../_base_/pretrained.py']
# mmaction2's SlowFast config (inherited, unmodified) with the paper's data set and schedule.

# SlowFast-R50 4x16 (mmaction2's ResNet3dSlowFast; Table 15 row "SlowFast") on Kinetics-400, from scratch as
# mmaction2's own config.

# Kinetics-400 (mmaction2's layout and list names; lists from tools/data/ucf101_to_mmaction.py kinetics ...).
kinetics400_root = 'data/kinetics400'
# mmaction2's data set with its list checked when built (labels in [0, num_classes), no line without one) and
# decode errors naming the file and list line (snl_plugins.mmaction.datasets)
checked = dict(type='CheckedVideoDataset', num_classes=400)
train_dataloader = dict(dataset=dict(**checked, ann_file=kinetics400_root + '/kinetics400_train_list_videos.txt',
                                     data_prefix=dict(video=kinetics400_root + '/videos_train')))
val_dataloader = dict(dataset=dict(**checked, ann_file=kinetics400_root + '/kinetics400_val_list_videos.txt',
                                   data_prefix=dict(video=kinetics400_root + '/videos_val')))
test_dataloader = dict(dataset=dict(**checked, ann_file=kinetics400_root + '/kinetics400_val_list_videos.txt',
                                    data_prefix=dict(video=kinetics400_root + '/videos_val')))

# The paper's schedule (Sec. 5): SGD lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 every 40 epochs, 100 epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=5)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[40, 80], gamma=0.1)]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=40, norm_type=2))
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.datasets'], allow_failed_imports=False)
# atomic checkpoint writes, old ones removed after a new one is complete, exact resume (snl_plugins.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
