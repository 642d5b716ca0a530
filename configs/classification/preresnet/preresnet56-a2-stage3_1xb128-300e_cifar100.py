_base_ = './preresnet56-a2_1xb128-300e_cifar100.py'

# preresnet56 + A2, Table 3 "Stage 3": the block right after the second residual block of stage 3.
model = dict(model=dict(nl_at=('layer3.1',)))
