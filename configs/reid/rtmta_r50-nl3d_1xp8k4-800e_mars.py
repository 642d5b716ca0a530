_base_ = './rtmta_r50_1xp8k4-800e_mars.py'

# RTMta + NL: Table 11, row "+ NL". One NL block right before the last residual block of
# res4 (layer3), over the clip's T x H x W maps (3D, the video non-local reading);
# Cs = C1 / 2, initialised as the identity. The paper does not say which reading it used; the other one is
# rtmta_r50-nl_1xp8k4-800e_mars.py.
model = dict(nonlocal_blocks=[dict(type='NL', at='layer3.-1', position='before', dim=3, reduction=2)])
