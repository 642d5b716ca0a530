_base_ = ['../vtn/vtn_r34-snl_8xb4-16x2x1-120e_kinetics400-rgb.py', '../../_base_/paper_harness.py']
# vtn_r34-snl_8xb4-16x2x1-120e_kinetics400-rgb in the paper's comparison harness (README.md here):
# SNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(cls_head=dict(attention=_base_.paper_harness.SNL))
