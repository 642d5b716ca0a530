_base_ = './preresnet56-gsnl_1xb128-300e_cifar100.py'

# preresnet56 + gSNL, Table 4 "DP 3": three blocks, one right after the second residual block of each of stages 1, 2, 3.
model = dict(model=dict(nl_at=('layer1.1', 'layer2.1', 'layer3.1')))
