_base_ = './rtmtp_r50_1xp8k4-800e_prid2011.py'

# RTMtp + SNL: Table 13, row "+ *SNL". One SNL block right before the last residual block of
# res4 (layer3), over the clip's T x H x W maps (3D, the video non-local reading);
# Cs = C1 / 2, initialised as the identity. The paper does not say which reading it used; the other one is
# rtmtp_r50-snl_1xp8k4-800e_prid2011.py.
model = dict(nonlocal_blocks=[dict(type='SNL', at='layer3.-1', position='before', dim=3, reduction=2)])
