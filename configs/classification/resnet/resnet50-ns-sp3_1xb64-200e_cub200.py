_base_ = './resnet50-ns_1xb64-200e_cub200.py'

# resnet50 + NS, Appendix D / Fig. 6 (the stable hypothesis on CUB-200): three consecutive NS units right before the
# last residual block of res4 (layer3), sharing the one affinity their stage computes from its input (Tao et al.'s
# nonlocal stage), trained with Table 9's CUB schedule; the NS peer of resnet50-snl-sp3_1xb64-200e_cub200.py.
model = dict(model=dict(nl_units=3))
