_base_ = ['../rtmtp_r50-snl3d_1xp8k4-800e_prid2011.py', '../../_base_/paper_harness.py']
# rtmtp_r50-snl3d_1xp8k4-800e_prid2011 in the paper's comparison harness (README.md here):
# SNL as the authors' released code: 'sym' normalisation D^-1/2 A D^-1/2, BN weight 1, ReLU.
model = dict(nonlocal_blocks=[dict(b, **_base_.paper_harness_sym[b.type]) for b in _base_.model.nonlocal_blocks])
