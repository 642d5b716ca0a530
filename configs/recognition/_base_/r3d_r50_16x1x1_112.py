# Hara et al.'s 3D ResNet (Hara, Kataoka, Satoh, CVPR 2018, "Can spatiotemporal 3D CNNs retrace the history of 2D
# CNNs and ImageNet?"; kenshohara/3D-ResNets-PyTorch), the backbone the paper names for Table 8, as mmaction2's
# ResNet3d allows it. Merged into a ResNet3d dict of the I3D configs (r3d/*.py); names differ from the I3D configs' own
# keys so that this file can be a second base beside them.
#
# Hara et al.                                      here (mmaction2 ResNet3d)
# conv1 7x7x7, stride (1, 2, 2), padding 3         conv1_kernel=(7, 7, 7), conv1_stride_t=1 (same)
# max-pool 3x3x3, stride 2 (T, H, W)               pool1 (1, 3, 3) with stride (2, 2, 2): ResNet3d's pool1 has a
#                                                  temporal kernel of 1 (not settable), the stride matches
# bottleneck 1x1x1 -> 3x3x3 -> 1x1x1, stride on    inflate=(1, 1, 1, 1) with inflate_style='3x3x3' (every block),
#   the 3x3x3 conv                                 style='pytorch' (same)
# res3-res5 stride 2 in T, H and W                 temporal_strides=(1, 2, 2, 2), spatial_strides=(1, 2, 2, 2)
# shortcut B (1x1x1 conv + BN) where shapes change same (ResNet3d's downsample)
# no pool after res2                               with_pool2=False
# no zero-initialised last BN                      zero_init_residual=False
# 16 consecutive frames, 112 x 112                 the pipelines below (Hara crops multi-scale corners of the
#                                                  frames; here a random 112 crop of frames resized to 128 short side)
# Kinetics-400 from scratch                        pretrained=None (no ImageNet inflation); UCF-101 rows: load_from
r3d_backbone = dict(conv1_kernel=(7, 7, 7), conv1_stride_t=1, pool1_stride_t=2, with_pool2=False,
                    temporal_strides=(1, 2, 2, 2), spatial_strides=(1, 2, 2, 2), inflate=(1, 1, 1, 1),
                    inflate_style='3x3x3', style='pytorch', zero_init_residual=False, pretrained=None,
                    pretrained2d=False)

r3d_train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='RandomCrop', size=112),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
r3d_val_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# Hara et al. average the scores of consecutive non-overlapping 16-frame clips over the whole video; 10 clips here
r3d_test_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=10, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 128)),
    dict(type='CenterCrop', crop_size=112),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
