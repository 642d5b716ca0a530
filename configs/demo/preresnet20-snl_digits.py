_base_ = ['./preresnet20_digits.py']

# The same network, data and schedule plus one SNL block where the paper puts it for PreResNet-20 (Table 5, "+ *SNL"):
# right after the second residual block of stage 1 (16x16 maps here, 16 channels), Cs = C1 / 2.
model = dict(model=dict(name='preresnet20_snl', nl_at=('layer1.1',), nl_position='after', nl_units=1,
                        nl_cfg=dict(reduction=2)))
