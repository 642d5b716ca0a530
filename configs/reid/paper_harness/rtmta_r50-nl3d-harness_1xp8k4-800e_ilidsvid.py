_base_ = ['../rtmta_r50-nl3d_1xp8k4-800e_ilidsvid.py', '../../_base_/paper_harness.py']
# rtmta_r50-nl3d_1xp8k4-800e_ilidsvid in the paper's comparison harness (README.md here):
# NL with the dot-product kernel and the authors' block start (BN weight 1, ReLU).
model = dict(nonlocal_blocks=[dict(b, **_base_.paper_harness[b.type]) for b in _base_.model.nonlocal_blocks])
