_base_ = ['../vtn/vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb.py', '../../_base_/paper_harness.py']
# vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb in the paper's comparison harness (README.md here):
# SNL as the authors' released code: 'sym' normalisation D^-1/2 A D^-1/2, BN weight 1, ReLU.
model = dict(cls_head=dict(attention=_base_.paper_harness_sym.SNL))
# fine-tuned from the Kinetics-400 VTN + SNL trained in the same harness (not the faithful one: its
# blocks learnt another normalisation)
load_from = {{_base_.kinetics400_vtn_r34_snl_harness_sym}}
