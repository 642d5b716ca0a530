"""Gradient flow from initialisation: identity blocks train (and the ReLU trap of the released code is refused).

Loss: a random projection of the output (a plain sum would give zero gradient through a train-mode BatchNorm).
"""
import pytest
import torch

from snl_plugins.blocks import NL, SNL, NonlocalStage, gSNL

from .cases import ALL_FACTORIES, ALL_IDS, spatial_for


def _norm_params(block):
    """Names of the parameters that belong to a norm layer (the block's, or its units')."""
    names = set()
    for mod_name, m in block.named_modules():
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm)):
            names |= {f'{mod_name}.{n}' if mod_name else n for n, _ in m.named_parameters()}
    return names


def _backward(block, x, target):
    block.zero_grad(set_to_none=False)
    (block(x) * target).sum().backward()
    return {n: p.grad.clone() for n, p in block.named_parameters()}


def _inputs(block, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 8, *spatial_for(block.dim), generator=g)
    return x, torch.randn(x.shape, generator=g)


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_identity_block_trains_after_one_step(factory):
    torch.manual_seed(0)
    block = factory().train()
    x, target = _inputs(block)
    norms = _norm_params(block)
    assert norms

    grads = _backward(block, x, target)
    for name, grad in grads.items():
        assert torch.isfinite(grad).all(), name
        if name in norms:  # the norm's weight and bias see the branch and the loss
            assert grad.abs().sum() > 0, name
        else:  # every other parameter sits behind the zero norm weight: exactly zero by the chain rule
            assert grad.abs().sum() == 0, name

    torch.optim.SGD(block.parameters(), lr=0.1).step()
    grads = _backward(block, x, target)
    for name, grad in grads.items():
        assert torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, f'{name} gets no gradient after one SGD step'


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_relu_after_norm_gets_gradients_at_once(factory):
    torch.manual_seed(0)
    block = factory(relu=True).train()  # zero_init defaults to False with relu=True
    assert block.zero_init is False
    x, target = _inputs(block, seed=1)
    with torch.no_grad():
        assert not torch.equal(block(x), x)  # not the identity: the norm starts at weight 1
    for name, grad in _backward(block, x, target).items():
        assert torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name


@pytest.mark.parametrize('build', [
    lambda: SNL(8, relu=True, zero_init=True),
    lambda: gSNL(8, relu=True, zero_init=True, dim=1),
    lambda: NL(8, relu=True, zero_init=True),
    lambda: NonlocalStage(8, unit='SNL', relu=True, zero_init=True),
])
def test_relu_trap_is_refused(build):
    with pytest.raises(ValueError, match='relu=True with zero_init=True would give every parameter .* zero gradient'):
        build()


def test_the_trap_is_real():
    """What the refusal prevents: a zero-initialised norm followed by ReLU, built by hand, never trains."""
    torch.manual_seed(0)
    block = SNL(8, zero_init=False, relu=True).train()
    with torch.no_grad():
        block.norm.weight.zero_()
    x, target = _inputs(block)
    for _ in range(2):
        grads = _backward(block, x, target)
        assert all(g.abs().sum() == 0 for g in grads.values())
        torch.optim.SGD(block.parameters(), lr=0.1).step()
