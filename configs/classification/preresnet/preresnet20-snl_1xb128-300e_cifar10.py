_base_ = './preresnet20_1xb128-300e_cifar10.py'

# preresnet20 + SNL: Table 5, row "+ *SNL".
# One block right after the second residual block of stage 1; Cs = C1 / 2 ("Sub 2").
model = dict(model=dict(name='preresnet20_snl', nl_at=('layer1.1',), nl_position='after', nl_units=1, nl_cfg=dict(reduction=2)))
