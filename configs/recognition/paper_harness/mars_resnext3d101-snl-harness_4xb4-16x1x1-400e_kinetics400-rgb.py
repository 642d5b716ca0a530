_base_ = ['../mars/mars_resnext3d101-snl_4xb4-16x1x1-400e_kinetics400-rgb.py', '../../_base_/paper_harness.py']
# mars_resnext3d101-snl_4xb4-16x1x1-400e_kinetics400-rgb in the paper's comparison harness (README.md here):
# SNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
