_base_ = ['../preresnet/preresnet56-a2-sp3_1xb128-300e_cifar100.py', '../../_base_/paper_harness.py']
# preresnet56-a2-sp3_1xb128-300e_cifar100 in the paper's comparison harness (README.md here):
# A2 with the authors' block start (BN weight 1, ReLU).
model = dict(model=dict(nl_cfg=_base_.paper_harness.A2))
