_base_ = ['../deeplabv3plus/deeplabv3plus_r50-d16-cgnl_1xb4-50e_voc12aug-513x513.py', '../../_base_/paper_harness.py']
# deeplabv3plus_r50-d16-cgnl_1xb4-50e_voc12aug-513x513 in the paper's comparison harness (README.md here):
# CGNL with the authors' start (GroupNorm weight 1, no ReLU, as their CGNL).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
