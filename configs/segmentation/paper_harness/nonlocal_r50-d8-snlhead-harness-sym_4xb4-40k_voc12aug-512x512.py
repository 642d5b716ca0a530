_base_ = ['../nonlocal_net/nonlocal_r50-d8-snlhead_4xb4-40k_voc12aug-512x512.py', '../../_base_/paper_harness.py']
# nonlocal_r50-d8-snlhead_4xb4-40k_voc12aug-512x512 in the paper's comparison harness (README.md here):
# SNL as the authors' released code: 'sym' normalisation D^-1/2 A D^-1/2, BN weight 1, ReLU.
model = dict(decode_head=dict(block=_base_.paper_harness_sym.SNL))
