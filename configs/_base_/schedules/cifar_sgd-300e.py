# The paper's CIFAR-10/100 schedule (Sec. 4.1): from scratch, SGD lr 0.1, momentum 0.9, weight decay 1e-4,
# lr /10 at epochs 150 and 250, 300 epochs, batch 128.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[150, 250], gamma=0.1)

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=5)
val_cfg = dict()
test_cfg = dict()

# lr 0.1 is for a total batch of 128; `auto_scale_lr.enable=True` rescales it linearly for another total batch
auto_scale_lr = dict(enable=False, base_batch_size=128)
