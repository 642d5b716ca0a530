_base_ = ['../classification/preresnet/preresnet20_1xb128-300e_cifar10.py']

# `make demo`: PreResNet-20 from scratch on scikit-learn's handwritten digits (1,797 8x8 grey images, bilinearly
# upsampled to 16x16, read as RGB), written by `tools/demo.py` as ImageFolder class folders of PNGs:
# data_root/{train,test}/<digit>/<index>.png, 1,297 training images and a fixed, seeded (sklearn
# train_test_split, random_state=0), stratified held-out set of 500.
# Same model and runtime as the CIFAR-10 config; data, batch and schedule shrunk to a few minutes on 2 CPU cores.
# 16x16 rather than 32x32: four times cheaper, and the 8x8 originals hold no more detail (PreResNet-20's stages then
# run at 16x16, 8x8 and 4x4).
data_root = 'work_dirs/demo_digits/data/digits16'  # where `tools/demo.py --task digits` writes them
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')

# the digits' own statistics (0-255 scale, after upsampling; training split): mean 77.8, std 81.2
data_preprocessor = dict(type='ImgDataPreprocessor', mean=[77.8, 77.8, 77.8], std=[81.2, 81.2, 81.2])
model = dict(data_preprocessor=data_preprocessor)

# light augmentation: shifts of up to 1 px (half a pixel of the 8x8 original); no flips (digits are not mirror
# symmetric)
train_pipeline = [dict(type='RandomCrop', size=16, padding=1, padding_mode='edge')]
test_pipeline = []

train_dataloader = dict(batch_size=64, num_workers=0, persistent_workers=False,
                        dataset=dict(type='ImageFolder', data_root=data_root, split='train', classes=classes,
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=250, num_workers=0, persistent_workers=False,
                      dataset=dict(type='ImageFolder', data_root=data_root, split='test', classes=classes,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader

# SGD with Nesterov momentum, lr 0.1 for batch 64, cosine to 0 per iteration, weight decay 5e-4
max_epochs = 6
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs, begin=0,
                       end=max_epochs, eta_min=0.0, convert_to_iter_based=True)
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(enable=False, base_batch_size=64)

# every iteration logged unsmoothed (the demo sums iteration times into epoch times and averages losses per epoch);
# only the final checkpoint is kept (the demo evaluates it: no selection on the held-out set)
log_processor = dict(window_size=1)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=1, save_last=True, save_best=None, rule=None))
randomness = dict(seed=0, deterministic=False)
