"""The degenerate cases of Fig. 1 / Table 1: NL (W1 = 0), NS (W1 = -W2, row normalisation), gSNL with W3 = 0.

NL and NS take the dot kernel without ReLU on the embeddings (NL's plain dot product, ``affinity_options``), so
their OWN affinity differs from SNL's ReLU one. The operator identities are therefore checked on a shared
affinity, passed to both blocks' ``forward(x, affinity)`` (exact), and, for NS, also on NS's own affinity with
non-negative inputs and embeddings, where ReLU is the identity and all degrees are positive.
"""
import pytest
import torch

from snl_plugins.blocks import NL, NS, SNL, gSNL

from . import reference as ref

C1 = 8


def _x(dim=2, positive=False, seed=0):
    spatial = {1: (6,), 2: (3, 4), 3: (2, 2, 3)}[dim]
    x = torch.randn(2, C1, *spatial, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.abs() + 0.05 if positive else x


def _copy(dst, src, pairs):
    with torch.no_grad():
        for d, s in pairs:
            getattr(dst, d).weight.copy_(getattr(src, s).weight)
        dst.norm.load_state_dict(src.norm.state_dict())


@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('normalize', ['sym', 'row'])
@pytest.mark.parametrize('path', ['dense', 'factorised'])
@pytest.mark.parametrize('training', [False, True])
def test_snl_with_w1_zero_is_nl(dim, normalize, path, training):
    snl = ref.randomize_all(SNL(C1, normalize=normalize, path=path, dim=dim), eval_mode=not training)
    with torch.no_grad():
        snl.w1.weight.zero_()
    nl = NL(C1, kernel='dot', normalize=normalize, symmetric=True, path=path, dim=dim).double().train(training)
    _copy(nl, snl, [('g', 'g'), ('w', 'w2')])
    x = _x(dim)
    affinity = snl.compute_affinity(x)
    with torch.no_grad():
        y_snl, y_nl = snl(x), nl(x, affinity)
    assert ref.rel_err(y_nl - x, y_snl - x) < 1e-12
    assert (y_snl - x).abs().max() > 1e-3  # the branch is there


@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('path', ['dense', 'factorised'])
@pytest.mark.parametrize('training', [False, True])
def test_snl_with_w1_minus_w2_is_ns_on_a_shared_affinity(dim, path, training):
    """Row normalisation: A 1 = 1 where the degree is positive, so Z W1 + A Z W2 = (A - I) Z W2 = (A - D) Z W2."""
    snl = ref.randomize_all(SNL(C1, normalize='row', path=path, dim=dim), eval_mode=not training)
    x = _x(dim, positive=True)  # with the ReLU embeddings of SNL, positive inputs ...
    with torch.no_grad():  # ... and non-negative embedding weights give every position a positive degree
        snl.phi.weight.abs_()
        snl.psi.weight.abs_()
        snl.w1.weight.copy_(-snl.w2.weight)
    ns = NS(C1, kernel='dot', normalize='row', symmetric=True, path=path, dim=dim).double().train(training)
    _copy(ns, snl, [('g', 'g'), ('w', 'w2'), ('phi', 'phi'), ('psi', 'psi')])
    affinity = snl.compute_affinity(x)
    assert (affinity.degrees() - 1).abs().max() < 1e-12
    with torch.no_grad():
        y_snl = snl(x)
        y_shared = ns(x, affinity)
        y_own = ns(x)  # NS's own (no-ReLU) dot affinity: the same here, as every embedding is non-negative
    assert ref.rel_err(y_shared - x, y_snl - x) < 1e-12
    assert ref.rel_err(y_own - x, y_snl - x) < 1e-12
    assert (y_snl - x).abs().max() > 1e-3


def test_ns_row_operator_with_zero_degree_rows():
    """Where a degree is 0 (ReLU kills a position), D^-1 A leaves the row 0 and D_ii = 0: NS gives 0 there, while
    SNL with W1 = -W2 gives -Z W2 -- the identity of the degenerate case holds on positive-degree rows only."""
    snl = ref.randomize_all(SNL(C1, normalize='row', path='dense', dim=1))
    with torch.no_grad():
        snl.phi.weight.zero_()
        snl.psi.weight.zero_()
        snl.phi.weight[:, 0] = 1.0
        snl.psi.weight[:, 0] = 1.0
        snl.w1.weight.copy_(-snl.w2.weight)
        snl.norm.running_mean.zero_()
        snl.norm.bias.zero_()
    x = _x(1, seed=3)
    x[:, 0, :2] = -1.0  # positions 0, 1: zero embeddings, zero degree
    x[:, 0, 2:] = x[:, 0, 2:].abs() + 0.1
    ns = NS(C1, kernel='dot', normalize='row', symmetric=True, path='dense', dim=1).double().eval()
    _copy(ns, snl, [('g', 'g'), ('w', 'w2')])
    affinity = snl.compute_affinity(x)
    with torch.no_grad():
        d_snl, d_ns = snl(x) - x, ns(x, affinity) - x
    assert d_ns[..., :2].abs().max() == 0
    assert d_snl[..., :2].abs().max() > 1e-3
    assert ref.rel_err(d_ns[..., 2:], d_snl[..., 2:]) < 1e-12


@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('kernel,normalize,path', [('dot', 'sym', 'dense'), ('dot', 'row', 'factorised'),
                                                   ('dot', 'none', 'factorised'), ('embedded_gaussian', 'sym', 'auto')])
def test_gsnl_with_w3_zero_is_snl(dim, kernel, normalize, path):
    g = ref.randomize_all(gSNL(C1, kernel=kernel, normalize=normalize, path=path, dim=dim))
    with torch.no_grad():
        g.w3.weight.zero_()
    s = SNL(C1, kernel=kernel, normalize=normalize, path=path, dim=dim).double().eval()
    missing, unexpected = s.load_state_dict(g.state_dict(), strict=False)
    assert not missing and unexpected == ['w3.weight']
    x = _x(dim)
    with torch.no_grad():
        y_g, y_s = g(x), s(x)
    assert ref.rel_err(y_g - x, y_s - x) < 1e-12
    assert (y_s - x).abs().max() > 1e-3
