_base_ = './rtmtp_r50_1xp8k4-800e_ilidsvid.py'

# RTMtp + SNL: Table 12, row "+ *SNL". One SNL block right before the last residual block of
# res4 (layer3), per frame (2D, the placement used elsewhere in the paper);
# Cs = C1 / 2, initialised as the identity. The paper does not say which reading it used; the other one is
# rtmtp_r50-snl3d_1xp8k4-800e_ilidsvid.py.
model = dict(nonlocal_blocks=[dict(type='SNL', at='layer3.-1', position='before', dim=2, reduction=2)])
