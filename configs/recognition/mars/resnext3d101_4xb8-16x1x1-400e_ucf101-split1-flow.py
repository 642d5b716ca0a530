_base_ = ['./resnext3d101_4xb8-16x1x1-400e_kinetics400-flow.py', '../_base_/pretrained.py']
# MARS's flow stream on UCF-101 split 1, fine-tuned from the Kinetics-400 flow stream as the authors do (train.py
# --pretrain_path ... --ft_begin_index 4): only the last stage (res5) and the classifier train (frozen_stages=3),
# lr 0.001, weight decay 1e-5. The teacher of the UCF-101 MARS configs.
model = dict(backbone=dict(frozen_stages=3), cls_head=dict(num_classes=101))
load_from = {{_base_.kinetics400_mars_flow}}  # the classifier (400 classes) is left out: its shape differs

# UCF-101 split 1 as rawframes in mmaction2's layout: data/ucf101/rawframes/<Class>/v_<Class>_gXX_cYY/{img,x,y}_*.jpg
# and lists of `<Class>/v_... <total_frames> <label>` lines (tools/data/ucf101_to_mmaction.py ucf101 data/ucf101
# --rawframes data/ucf101/rawframes writes them).
ucf101_frames = 'data/ucf101/rawframes'
train_dataloader = dict(dataset=dict(num_classes=101, ann_file='data/ucf101/ucf101_train_split_1_rawframes.txt',
                                     data_prefix=dict(img=ucf101_frames)))
val_dataloader = dict(dataset=dict(num_classes=101, ann_file='data/ucf101/ucf101_val_split_1_rawframes.txt',
                                   data_prefix=dict(img=ucf101_frames)))
test_dataloader = dict(dataset=dict(num_classes=101, ann_file='data/ucf101/ucf101_val_split_1_rawframes.txt',
                                    data_prefix=dict(img=ucf101_frames)))

optim_wrapper = dict(optimizer=dict(lr=0.001, weight_decay=1e-5))
