_base_ = './resnet50_1xb64-200e_cub200.py'

# resnet50 + gSNL: Table 9, row "+ *gSNL".
# One block right before the last residual block of res4 (layer3), initialised as the identity; Cs = C1 / 2 ("Sub 2").
model = dict(model=dict(name='resnet50_gsnl', nl_at=('layer3.-1',), nl_position='before', nl_units=1, nl_cfg=dict(reduction=2)))
