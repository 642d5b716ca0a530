# The paper's CUB-200 schedule (Sec. 4.1): ImageNet-pretrained, SGD lr 0.1, momentum 0.9, weight decay 1e-4,
# 200 epochs, lr /10 "at 31, 61, 81 epochs" (1-based) = after 30, 60 and 80 finished epochs (mmengine's milestones
# count finished epochs).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60, 80], gamma=0.1)

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=5)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(enable=False, base_batch_size=64)
