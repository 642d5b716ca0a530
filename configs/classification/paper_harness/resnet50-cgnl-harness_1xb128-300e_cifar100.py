_base_ = ['../resnet/resnet50-cgnl_1xb128-300e_cifar100.py', '../../_base_/paper_harness.py']
# resnet50-cgnl_1xb128-300e_cifar100 in the paper's comparison harness (README.md here):
# CGNL with the authors' start (GroupNorm weight 1, no ReLU, as their CGNL).
model = dict(model=dict(nl_cfg=_base_.paper_harness.CGNL))
