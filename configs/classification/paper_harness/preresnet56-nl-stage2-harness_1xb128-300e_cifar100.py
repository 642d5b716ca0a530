_base_ = ['../preresnet/preresnet56-nl-stage2_1xb128-300e_cifar100.py', '../../_base_/paper_harness.py']
# preresnet56-nl-stage2_1xb128-300e_cifar100 in the paper's comparison harness (README.md here):
# NL with the dot-product kernel and the authors' block start (BN weight 1, ReLU).
model = dict(model=dict(nl_cfg=_base_.paper_harness.NL))
