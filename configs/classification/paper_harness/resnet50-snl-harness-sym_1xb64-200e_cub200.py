_base_ = ['../resnet/resnet50-snl_1xb64-200e_cub200.py', '../../_base_/paper_harness.py']
# resnet50-snl_1xb64-200e_cub200 in the paper's comparison harness (README.md here):
# SNL as the authors' released code: 'sym' normalisation D^-1/2 A D^-1/2, BN weight 1, ReLU.
model = dict(model=dict(nl_cfg=_base_.paper_harness_sym.SNL))
