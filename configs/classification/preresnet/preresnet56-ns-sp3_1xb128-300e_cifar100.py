_base_ = './preresnet56-ns_1xb128-300e_cifar100.py'

# preresnet56 + NS, Table 4 "SP 3": three consecutive units in stage 1 sharing one affinity (A2 / CGNL: three blocks in a row).
model = dict(model=dict(nl_units=3))
