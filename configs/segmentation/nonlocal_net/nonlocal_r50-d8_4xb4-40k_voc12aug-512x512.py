# mmseg's own non-local segmentor (NLHead: mmcv NonLocal2d in the decode head),
# nonlocal_r50-d8_4xb4-40k_voc12aug-512x512.py unmodified:
# the peer of the SNL / gSNL head configs beside it, evaluated with fwIoU too.
_base_ = 'mmseg::nonlocal_net/nonlocal_r50-d8_4xb4-40k_voc12aug-512x512.py'
# snl_plugins: blocks and InjectNonlocal (core), FwIoUMetric / NonlocalHead / mask checks (snl_plugins.mmseg)
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.mmseg'], allow_failed_imports=False)
# atomic checkpoint writes, old ones removed after a new one is complete, exact resume (snl_plugins.engine)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# every mask is checked against its image and the 21 classes (255 = ignore), naming the file on failure
train_dataloader = dict(dataset=dict(type='CheckedConcatDataset'))
val_dataloader = dict(dataset=dict(type='CheckedPascalVOCDataset'))
test_dataloader = val_dataloader
# mmseg's IoUMetric (aAcc, mIoU, mAcc) plus the paper's frequency-weighted IoU (fwIoU), all in percent
val_evaluator = dict(type='FwIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
