_base_ = [
    './_base_/models/rtm_r50.py',
    './_base_/datasets/mars_p8k4-t4.py',
    './_base_/schedule_adam-800e.py',
    './_base_/reid_runtime.py',
]

# RTMtp (temporal pooling) on an ImageNet ResNet-50: Table 11, row "RTMtp".
model = dict(temporal='tp', num_classes={{_base_.num_identities}}, frame_size={{_base_.frame_size}})
