_base_ = ['mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py',
           '../_base_/pretrained.py']
# mmaction2's I3D config (inherited, unmodified) with its own schedule and our checked Kinetics-400 lists.

# I3D-R50 (mmaction2's ResNet3d) on Kinetics-400, inflated from a local ImageNet ResNet-50 (pretrained2d=True).
model = dict(backbone=dict(pretrained={{_base_.imagenet_resnet50}}, pretrained2d=True))

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

# The schedule is mmaction2's for this model (inherited, not overridden): the paper gives no Kinetics-400 schedule
# (its lr 0.1 / 100 epochs / steps 40, 80 is the UCF-101 fine-tuning of Sec. 4.1). That is SGD lr 0.01, momentum 0.9,
# weight decay 1e-4, lr / 10 at epochs 40 and 80, 100 epochs, clip_grad 40 (mmaction2's _base_/schedules/sgd_100e.py),
# for mmaction2's 8 GPUs x 8 clips.
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.datasets'], allow_failed_imports=False)
# atomic checkpoint writes, old ones removed after a new one is complete, exact resume (snl_plugins.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
