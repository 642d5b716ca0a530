_base_ = ['../deeplabv3plus/deeplabv3plus_r50-d8-nl_4xb4-20k_voc12aug-512x512.py', '../../_base_/paper_harness.py']
# deeplabv3plus_r50-d8-nl_4xb4-20k_voc12aug-512x512 in the paper's comparison harness (README.md here):
# NL with the dot-product kernel and the authors' block start (BN weight 1, ReLU).
model = dict(backbone=dict(blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.backbone.blocks]))
