_base_ = './preresnet56-ns_1xb128-300e_cifar100.py'

# preresnet56 + NS, Table 2 "Sub 4": Cs = C1 / 4 ("Sub 4").
model = dict(model=dict(nl_cfg=dict(reduction=4)))
