_base_ = ['../resnet/resnet50-snl_1xb64-200e_cub200.py', '../../_base_/paper_harness.py']
# resnet50-snl_1xb64-200e_cub200 in the paper's comparison harness (README.md here):
# SNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(model=dict(nl_cfg=_base_.paper_harness.SNL))
