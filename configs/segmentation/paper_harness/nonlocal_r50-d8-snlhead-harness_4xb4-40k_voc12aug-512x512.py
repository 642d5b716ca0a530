_base_ = ['../nonlocal_net/nonlocal_r50-d8-snlhead_4xb4-40k_voc12aug-512x512.py', '../../_base_/paper_harness.py']
# nonlocal_r50-d8-snlhead_4xb4-40k_voc12aug-512x512 in the paper's comparison harness (README.md here):
# SNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(decode_head=dict(block=_base_.paper_harness.SNL))
