_base_ = ['../resnet/resnet50-a2_1xb64-200e_cub200.py', '../../_base_/paper_harness.py']
# resnet50-a2_1xb64-200e_cub200 in the paper's comparison harness (README.md here):
# A2 with the authors' block start (BN weight 1, ReLU).
model = dict(model=dict(nl_cfg=_base_.paper_harness.A2))
