_base_ = ['../r3d/r3d_r50-gsnl_8xb8-16x1x1-100e_ucf101-split1-rgb.py', '../../_base_/paper_harness.py']
# r3d_r50-gsnl_8xb8-16x1x1-100e_ucf101-split1-rgb in the paper's comparison harness (README.md here):
# gSNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
