"""Identity at initialisation, zero and constant inputs, bf16 autocast, torch.compile and torch.jit.trace."""
import warnings

import pytest
import torch

from snl_plugins.blocks import NL, NS, SNL, gSNL

from . import reference as ref
from .cases import ALL_FACTORIES, ALL_IDS, spatial_for


def _x(block, seed=0, batch=2):
    return torch.randn(batch, 8, *spatial_for(block.dim), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_identity_at_initialisation(factory):
    block = factory()
    x = _x(block)
    for training in (True, False):
        block.train(training)
        with torch.no_grad():
            assert torch.equal(block(x), x)


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_zero_input_is_finite(factory, training):
    """All degrees are 0 (dot kernel) and every projection is 0: finite outputs and gradients, no NaN."""
    block = ref.randomize_all(factory(zero_init=False), eval_mode=not training)
    x = torch.zeros(2, 8, *spatial_for(block.dim), dtype=torch.float64, requires_grad=True)
    y = block(x)
    assert torch.isfinite(y).all()
    (y * torch.randn(y.shape, dtype=torch.float64)).sum().backward()
    assert torch.isfinite(x.grad).all()
    for name, p in block.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('cls', [SNL, gSNL])
@pytest.mark.parametrize('normalize', ['sym', 'row'])
@pytest.mark.parametrize('path', ['dense', 'factorised'])
def test_constant_input_gives_uniform_affinity(cls, normalize, path):
    """x_i = c at every position: A_raw = (p.q) 11^T, all degrees N p.q, so D^-1/2 A D^-1/2 = D^-1 A = 11^T / N,
    A Z = Z, and the branch is the same vector at every position."""
    block = ref.randomize_all(cls(8, normalize=normalize, path=path, zero_init=False))
    with torch.no_grad():
        block.phi.weight.abs_()
        block.psi.weight.abs_()
    c = torch.rand(1, 8, 1, 1, dtype=torch.float64) + 0.1
    x = c.expand(2, 8, 3, 4).contiguous()
    block.record_affinity = True
    with torch.no_grad():
        y = block(x)
    n = 12
    a = block.affinity.to_dense()
    torch.testing.assert_close(a, torch.full((2, n, n), 1.0 / n, dtype=torch.float64), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(block.affinity.degrees(), torch.ones(2, n, dtype=torch.float64))
    branch = (y - x).flatten(2)
    torch.testing.assert_close(branch, branch[:, :, :1].expand_as(branch))


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_bf16_autocast_close_to_float32(factory):
    torch.manual_seed(0)
    block = factory(zero_init=False).eval()
    x = _x(block, seed=1)
    with torch.no_grad():
        y32 = block(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            y16 = block(x)
    assert torch.isfinite(y16).all()
    assert ref.rel_err((y16 - x).float(), y32 - x) < 5e-2  # the branch, to bf16's ~3 significant digits


# torch.compile with backend 'aot_eager': dynamo + AOTAutograd (forward and backward graphs) without codegen. The
# default inductor backend compiles C++ on the first call, ~20 s per block on these 2 CPU cores: too slow here.
# One block per code path (dense / factorised dot kernel, fused softmax, A2, CGNL, a stage): ~1 s each.
COMPILED = ['SNL-dot-sym-dense', 'gSNL-dot-row-factorised', 'NL-embedded_gaussian-fused', 'A2', 'CGNL-gaussian',
            'Stage-gSNL']


@pytest.mark.parametrize('name', COMPILED)
def test_torch_compile_matches_eager(name):
    torch._dynamo.reset()
    block = ALL_FACTORIES[ALL_IDS.index(name)](zero_init=False).eval()
    compiled = torch.compile(block, backend='aot_eager', fullgraph=True)
    x = _x(block, seed=2)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    target = torch.randn(x.shape)
    y_eager, y_comp = block(x1), compiled(x2)
    torch.testing.assert_close(y_comp, y_eager, rtol=1e-5, atol=1e-6)
    grads_eager = torch.autograd.grad((y_eager * target).sum(), [x1, *block.parameters()])
    grads_comp = torch.autograd.grad((y_comp * target).sum(), [x2, *block.parameters()])
    for ge, gc in zip(grads_eager, grads_comp):
        torch.testing.assert_close(gc, ge, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_jit_trace_matches_eager(factory):
    torch.manual_seed(0)
    block = factory(zero_init=False).eval()
    x = _x(block, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings from the input checks, and trace's deprecation notice
        traced = torch.jit.trace(block, x, check_trace=False)
    other = _x(block, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(traced(other), block(other))


def test_nl_ns_softmax_fused_and_dense_agree():
    """The fused (scaled_dot_product_attention) and materialised softmax affinities give the same block."""
    for cls in (NL, NS):
        fused = ref.randomize_all(cls(8, zero_init=False))
        dense = ref.randomize_all(cls(8, zero_init=False, path='dense'))
        dense.load_state_dict(fused.state_dict())
        x = _x(fused, seed=5).double()
        with torch.no_grad():
            assert ref.rel_err(fused(x) - x, dense(x) - x) < 1e-12


@pytest.mark.parametrize('factory', ALL_FACTORIES, ids=ALL_IDS)
def test_jit_script_matches_eager(factory):
    torch.manual_seed(0)
    block = factory(zero_init=False).double().eval()  # float64: NS's signed dot kernel can have tiny degrees
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # torch.jit.script's deprecation notice
        scripted = torch.jit.script(block)
    x = _x(block, seed=6).double()
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_eager, y_script = block(x1), scripted(x2)
    torch.testing.assert_close(y_script, y_eager)
    target = torch.randn(x.shape, dtype=torch.float64)
    (y_eager * target).sum().backward()
    (y_script * target).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad)
