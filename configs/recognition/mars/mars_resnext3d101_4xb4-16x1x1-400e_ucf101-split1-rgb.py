_base_ = './mars_resnext3d101_4xb4-16x1x1-400e_kinetics400-rgb.py'  # (includes ../_base_/pretrained.py)
# MARS on UCF-101 split 1, fine-tuned from the Kinetics-400 MARS as the authors do (MARS_train.py --pretrain_path ...
# --ft_begin_index 4): only res5 and the classifier train (frozen_stages=3), lr 0.001, weight decay 1e-5; the teacher is
# the flow stream fine-tuned on UCF-101 (resnext3d101_..._ucf101-split1-flow.py and its checkpoint).
model = dict(backbone=dict(frozen_stages=3), cls_head=dict(num_classes=101),
             teacher_config='{{ fileDirname }}/resnext3d101_4xb8-16x1x1-400e_ucf101-split1-flow.py',
             teacher_checkpoint={{_base_.ucf101_mars_flow}})
load_from = {{_base_.kinetics400_mars_rgb}}  # the classifier (400 classes) is left out: its shape differs

# UCF-101 split 1 rawframes as for the flow stream (RGB and flow in the same directories)
ucf101_frames = 'data/ucf101/rawframes'
train_dataloader = dict(dataset=dict(num_classes=101, ann_file='data/ucf101/ucf101_train_split_1_rawframes.txt',
                                     data_prefix=dict(img=ucf101_frames)))
val_dataloader = dict(dataset=dict(num_classes=101, ann_file='data/ucf101/ucf101_val_split_1_rawframes.txt',
                                   data_prefix=dict(img=ucf101_frames)))
test_dataloader = dict(dataset=dict(num_classes=101, ann_file='data/ucf101/ucf101_val_split_1_rawframes.txt',
                                    data_prefix=dict(img=ucf101_frames)))

optim_wrapper = dict(optimizer=dict(lr=0.001, weight_decay=1e-5))
