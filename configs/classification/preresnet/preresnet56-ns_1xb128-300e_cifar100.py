_base_ = './preresnet56_1xb128-300e_cifar100.py'

# preresnet56 + NS: Table 6 "+ NS" = Table 2 "Sub 2", Table 3 "Stage 1", Table 4 "SP 1/DP 1".
# One block right after the second residual block of stage 1; Cs = C1 / 2 ("Sub 2").
model = dict(model=dict(name='preresnet56_ns', nl_at=('layer1.1',), nl_position='after', nl_units=1, nl_cfg=dict(reduction=2)))
