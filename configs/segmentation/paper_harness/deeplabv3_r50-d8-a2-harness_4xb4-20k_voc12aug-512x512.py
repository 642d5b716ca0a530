_base_ = ['../deeplabv3/deeplabv3_r50-d8-a2_4xb4-20k_voc12aug-512x512.py', '../../_base_/paper_harness.py']
# deeplabv3_r50-d8-a2_4xb4-20k_voc12aug-512x512 in the paper's comparison harness (README.md here):
# A2 with the authors' block start (BN weight 1, ReLU).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
