_base_ = './preresnet56-nl_1xb128-300e_cifar100.py'

# preresnet56 + NL, Table 2 "Sub 1": Cs = C1 ("Sub 1").
model = dict(model=dict(nl_cfg=dict(reduction=1)))
