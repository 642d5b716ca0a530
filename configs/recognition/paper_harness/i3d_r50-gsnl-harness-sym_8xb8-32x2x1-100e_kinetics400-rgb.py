_base_ = ['../i3d/i3d_r50-gsnl_8xb8-32x2x1-100e_kinetics400-rgb.py', '../../_base_/paper_harness.py']
# i3d_r50-gsnl_8xb8-32x2x1-100e_kinetics400-rgb in the paper's comparison harness (README.md here):
# gSNL as the authors' released code: 'sym' normalisation D^-1/2 A D^-1/2, BN weight 1, ReLU.
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness_sym[b.type]) for b in _base_.model.backbone.blocks]))
