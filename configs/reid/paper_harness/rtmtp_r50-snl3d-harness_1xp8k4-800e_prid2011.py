_base_ = ['../rtmtp_r50-snl3d_1xp8k4-800e_prid2011.py', '../../_base_/paper_harness.py']
# rtmtp_r50-snl3d_1xp8k4-800e_prid2011 in the paper's comparison harness (README.md here):
# SNL with the paper's row normalisation D^-1 A and the authors' block start (BN weight 1, ReLU).
model = dict(nonlocal_blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.nonlocal_blocks])
