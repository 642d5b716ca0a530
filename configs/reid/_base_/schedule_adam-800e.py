# Gao & Nevatia 2018 (jiyanggao/Video-Person-ReID): Adam, lr 3e-4, weight decay 5e-4, lr x 0.1 every 200 epochs,
# 800 epochs of their sampler's short epochs (one P x K group per training identity, see RandomIdentitySampler),
# evaluation every 50 epochs.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-4, weight_decay=5e-4))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=200, gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=800, val_interval=50)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=32)
