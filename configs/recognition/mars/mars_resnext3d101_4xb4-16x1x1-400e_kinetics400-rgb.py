_base_ = ['./resnext3d101_4xb8-16x1x1-400e_kinetics400-flow.py', '../_base_/pretrained.py']
# MARS (Crasto et al. 2019, craston/MARS MARS_train.py) on Kinetics-400 from scratch: an RGB ResNeXt3D-101 trained with
# cross-entropy + 50 x MSE between its pooled 2048-d feature and that of the frozen flow stream (the teacher: the flow
# config beside this one and its trained checkpoint). Only the student is saved; testing needs RGB only.
model = dict(
    _delete_=True,
    type='MARSRecognizer',
    backbone=dict(type='ResNeXt3d', depth=101, in_channels=3),
    cls_head=dict(type='I3DHead', in_channels=2048, num_classes=400, spatial_type='avg', dropout_ratio=0.0,
                  average_clips='score'),
    # RGB 0..255 minus ActivityNet's mean, not scaled (MARS's Normalize(get_mean('activitynet'), [1, 1, 1]))
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[114.7748, 107.7354, 99.4750], std=[1, 1, 1],
                           format_shape='NCTHW'),
    teacher_config='{{ fileDirname }}/resnext3d101_4xb8-16x1x1-400e_kinetics400-flow.py',
    teacher_checkpoint={{_base_.kinetics400_mars_flow}},
    alpha=50.0)

# RGB frames (img_*.jpg) of the same directories as the flow; the lists' frame counts must be those of the flow
# (one fewer than RGB frames with most extractors), so that every sampled frame has both.
kinetics_train_frames, kinetics_val_frames = 'data/kinetics400/rawframes_train', 'data/kinetics400/rawframes_val'
rgb = dict(modality='RGB', filename_tmpl='img_{:05d}.jpg')
# training: the flow's transforms, run by WithFlow on the RGB clip and on the flow of the same frames with the same
# crop and flip; the flow goes to each data sample as `flow`. Validation / test: the RGB clip alone.
train_pipeline = [
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=1),
    dict(type='WithFlow', flow_filename_tmpl='{}_{:05d}.jpg', transforms={{_base_.mars_augment}}),
    dict(type='PackActionInputs', algorithm_keys=('flow', ))
]
train_dataloader = dict(batch_size=4, dataset=dict(ann_file='data/kinetics400/kinetics400_train_list_rawframes.txt',
                                                   data_prefix=dict(img=kinetics_train_frames),
                                                   pipeline=train_pipeline, **rgb))
val_dataloader = dict(dataset=dict(ann_file='data/kinetics400/kinetics400_val_list_rawframes.txt',
                                   data_prefix=dict(img=kinetics_val_frames), **rgb))
test_dataloader = dict(dataset=dict(ann_file='data/kinetics400/kinetics400_val_list_rawframes.txt',
                                    data_prefix=dict(img=kinetics_val_frames), **rgb))
# the authors' MARS batch of 16 (MARS_train.py --batch_size 16) as 4 GPUs x 4; optimiser and schedule as the flow stream
auto_scale_lr = dict(enable=False, base_batch_size=16)
# MARSRecognizer subclasses mmaction2's Recognizer3D, so it registers on import of its module (not of snl_plugins)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmaction.mars', 'snl_plugins.mmaction.datasets'],
                      allow_failed_imports=False)
