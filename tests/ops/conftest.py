import torch

# Tiny tensors: one intra-op thread avoids spin-waiting on the (shared, 2-core) CPU and is faster.
torch.set_num_threads(1)
