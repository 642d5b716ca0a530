_base_ = './vtn_r34_8xb2-16x2x1-200e_ucf101-split1-rgb.py'
# ResNet34-VTN + SNL on UCF-101 split 1, Table 14 row "VTN + *SNL": SNL over time in place of each layer's multi-head
# self-attention (as in vtn_r34-snl_8xb4-16x2x1-120e_kinetics400-rgb.py), fine-tuned from the Kinetics-400 VTN + SNL.
# load_from may also be a plain VTN checkpoint: its attention weights are then reported unexpected and the SNL blocks
# start as the identity (each attention sublayer as LayerNorm only).
model = dict(cls_head=dict(attention=dict(_delete_=True, type='SNL', reduction=2)))
load_from = {{_base_.kinetics400_vtn_r34_snl}}
