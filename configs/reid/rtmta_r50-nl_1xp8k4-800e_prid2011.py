_base_ = './rtmta_r50_1xp8k4-800e_prid2011.py'

# RTMta + NL: Table 13, row "+ NL". One NL block right before the last residual block of
# res4 (layer3), per frame (2D, the placement used elsewhere in the paper);
# Cs = C1 / 2, initialised as the identity. The paper does not say which reading it used; the other one is
# rtmta_r50-nl3d_1xp8k4-800e_prid2011.py.
model = dict(nonlocal_blocks=[dict(type='NL', at='layer3.-1', position='before', dim=2, reduction=2)])
