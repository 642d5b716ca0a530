_base_ = './preresnet56-nl_1xb128-300e_cifar100.py'

# preresnet56 + NL, Table 4 "SP 5": five consecutive units in stage 1 sharing one affinity (A2 / CGNL: five blocks in a row).
model = dict(model=dict(nl_units=5))
