_base_ = './vtn_r34_8xb4-16x2x1-120e_kinetics400-rgb.py'
# ResNet34-VTN on UCF-101 split 1, Table 14 row "VTN": the whole recognizer starts from a local Kinetics-400 VTN
# checkpoint (load_from: set it in ../_base_/pretrained.py or with --cfg-options load_from=...); the 400-class fc_cls
# is left out of it (size mismatch, reported) and starts afresh with 101 classes.
model = dict(backbone=dict(pretrained=None), cls_head=dict(num_classes=101))
load_from = {{_base_.kinetics400_vtn_r34}}

# UCF-101 split 1 (101 classes): lists written by tools/data/ucf101_to_mmaction.py from the standard layout
# (data/ucf101/UCF-101/<Class>/v_*.avi, data/ucf101/ucfTrainTestlist/). VTN's UCF-101 batch: 16 clips (8 GPUs x 2).
ucf101_root = 'data/ucf101'
train_dataloader = dict(batch_size=2, dataset=dict(num_classes=101,
                                                   ann_file=ucf101_root + '/ucf101_train_split_1_videos.txt',
                                                   data_prefix=dict(video=ucf101_root + '/UCF-101')))
val_dataloader = dict(batch_size=2, dataset=dict(num_classes=101,
                                                 ann_file=ucf101_root + '/ucf101_val_split_1_videos.txt',
                                                 data_prefix=dict(video=ucf101_root + '/UCF-101')))
test_dataloader = dict(dataset=dict(num_classes=101, ann_file=ucf101_root + '/ucf101_val_split_1_videos.txt',
                                    data_prefix=dict(video=ucf101_root + '/UCF-101')))

# VTN's fine-tuning: lr 1e-5 (its README's UCF-101 command), the same Adam / plateau schedule, its default 200 epochs.
train_cfg = dict(max_epochs=200)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
auto_scale_lr = dict(base_batch_size=16)
