"""The linear-memory paths keep nothing of N x N size for backward: the factorised dot kernel (SNL, gSNL, stages),
A2, CGNL, and the fused softmax (NL, NS) through torch's flash kernel; the dense path does, as a control."""
import pytest
import torch

from snl_plugins import A2, CGNL, NL, NS, SNL, NonlocalStage, gSNL

SIDE = 24  # N = 576 positions, more than the channels, so N x N is the largest tensor a block could save


def _largest_saved(block, x):
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = block(x)
    y.square().mean().backward()
    return max(sizes)


@pytest.mark.parametrize('make', [
    lambda: SNL(16, path='factorised', zero_init=False),
    lambda: gSNL(16, path='factorised', zero_init=False),
    lambda: NonlocalStage(16, unit='gSNL', num_units=2, path='factorised', zero_init=False),
    lambda: NL(16, zero_init=False),
    lambda: NS(16, zero_init=False),
    lambda: NonlocalStage(16, unit='NS', num_units=2, zero_init=False),
    lambda: A2(16, zero_init=False),
    lambda: CGNL(16, groups=4, zero_init=False),
], ids=['SNL', 'gSNL', 'stage-gSNL', 'NL', 'NS', 'stage-NS', 'A2', 'CGNL'])
def test_linear_paths_save_no_n_by_n(make):
    n = SIDE * SIDE
    assert _largest_saved(make(), torch.randn(2, 16, SIDE, SIDE, requires_grad=True)) < n * n


@pytest.mark.parametrize('make', [lambda: SNL(16, path='dense', zero_init=False),
                                  lambda: NL(16, path='dense', zero_init=False)], ids=['SNL', 'NL'])
def test_dense_path_does(make):
    n = SIDE * SIDE
    assert _largest_saved(make(), torch.randn(2, 16, SIDE, SIDE, requires_grad=True)) >= 2 * n * n
