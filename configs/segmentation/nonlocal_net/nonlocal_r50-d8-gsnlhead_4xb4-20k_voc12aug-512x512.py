# gSNL in the decode head in NLHead's place (conv -> gSNL -> conv -> classifier); otherwise as the SNL-head config.
_base_ = './nonlocal_r50-d8-snlhead_4xb4-20k_voc12aug-512x512.py'
model = dict(decode_head=dict(block=dict(type='gSNL', reduction=2)))
