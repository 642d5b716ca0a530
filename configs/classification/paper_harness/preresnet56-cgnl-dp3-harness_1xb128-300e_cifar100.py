_base_ = ['../preresnet/preresnet56-cgnl-dp3_1xb128-300e_cifar100.py', '../../_base_/paper_harness.py']
# preresnet56-cgnl-dp3_1xb128-300e_cifar100 in the paper's comparison harness (README.md here):
# CGNL with the authors' start (GroupNorm weight 1, no ReLU, as their CGNL).
model = dict(model=dict(nl_cfg=_base_.paper_harness.CGNL))
