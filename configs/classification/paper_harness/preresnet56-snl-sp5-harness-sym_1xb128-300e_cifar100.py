_base_ = ['../preresnet/preresnet56-snl-sp5_1xb128-300e_cifar100.py', '../../_base_/paper_harness.py']
# preresnet56-snl-sp5_1xb128-300e_cifar100 in the paper's comparison harness (README.md here):
# SNL as the authors' released code: 'sym' normalisation D^-1/2 A D^-1/2, BN weight 1, ReLU.
model = dict(model=dict(nl_cfg=_base_.paper_harness_sym.SNL))
