_base_ = './slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py'
# SlowFast-R50 + NL (Table 15). Where SlowFast's NL blocks go (PySlowFast's NLN configs): the slow pathway's
# res4 only, after blocks 1, 3 and 5; embedded Gaussian, keys max-pooled over space.
# "SlowFast + SNL" puts SNL in those places. (Paths under fast_path put blocks in the fast pathway.)
model = dict(backbone=dict(_delete_=True, type='InjectNonlocal', module={{_base_.model.backbone}},
                           blocks=[dict(type='NL', at='slow_path.layer3.1', position='after', reduction=2, sub_sample=True),
                                   dict(type='NL', at='slow_path.layer3.3', position='after', reduction=2, sub_sample=True),
                                   dict(type='NL', at='slow_path.layer3.5', position='after', reduction=2, sub_sample=True)]))
