_base_ = ['../i3d/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py', '../../_base_/paper_harness.py']
# i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb in the paper's comparison harness (README.md here):
# SNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
