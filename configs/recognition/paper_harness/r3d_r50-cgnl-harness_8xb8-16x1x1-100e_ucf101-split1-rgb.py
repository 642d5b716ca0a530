_base_ = ['../r3d/r3d_r50-cgnl_8xb8-16x1x1-100e_ucf101-split1-rgb.py', '../../_base_/paper_harness.py']
# r3d_r50-cgnl_8xb8-16x1x1-100e_ucf101-split1-rgb in the paper's comparison harness (README.md here):
# CGNL with the authors' start (GroupNorm weight 1, no ReLU, as their CGNL).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
