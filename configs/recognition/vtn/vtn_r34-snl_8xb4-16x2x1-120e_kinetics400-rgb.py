_base_ = './vtn_r34_8xb4-16x2x1-120e_kinetics400-rgb.py'
# ResNet34-VTN + SNL, Table 14 row "VTN + *SNL": in each of the 4 encoder layers an SNL block over time (1D, on
# (B, 512, T), Cs = 256) replaces the multi-head self-attention; the block is residual itself, then LayerNorm and the
# FFN sublayer as in VTN (see snl_plugins/mmaction/vtn_encoder.py).
model = dict(cls_head=dict(attention=dict(_delete_=True, type='SNL', reduction=2)))
