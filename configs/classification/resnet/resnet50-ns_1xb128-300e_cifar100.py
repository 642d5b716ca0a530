_base_ = './resnet50_1xb128-300e_cifar100.py'

# resnet50 + NS: Table 7, row "+ NS".
# One block right before the last residual block of res4 (layer3); Cs = C1 / 2 ("Sub 2").
model = dict(model=dict(name='resnet50_ns', nl_at=('layer3.-1',), nl_position='before', nl_units=1, nl_cfg=dict(reduction=2)))
