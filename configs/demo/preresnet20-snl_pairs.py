_base_ = ['./preresnet20_pairs.py']

# The same network, data and schedule plus one SNL block at the paper's PreResNet-20 position (Table 5, "+ *SNL"):
# right after the second residual block of stage 1 (32x32 maps here, 16 channels), Cs = C1 / 2.
model = dict(model=dict(name='preresnet20_snl', nl_at=('layer1.1',), nl_position='after', nl_units=1,
                        nl_cfg=dict(reduction=2)))
