_base_ = './resnet50-snl_1xb64-200e_cub200.py'

# resnet50 + SNL, Appendix D / Fig. 6 (the stable hypothesis on CUB-200): three consecutive SNL units right before the
# last residual block of res4 (layer3), sharing the one affinity their stage computes from its input (as Table 4's
# SP 3 on CIFAR), trained with Table 9's CUB schedule. tools/analysis/stable_hypothesis.py histograms that affinity's
# powers A, A^2, A^3, A^4 (docs/analysis.md).
model = dict(model=dict(nl_units=3))
