"""Every block against the independent numpy implementation of its paper (``reference.py``), float64."""
import numpy as np
import pytest
import torch

from snl_plugins.blocks import A2, CGNL, NL, NS, SNL, NonlocalStage, gSNL

from . import reference as ref

C1 = 8
SHAPES = {1: (6,), 2: (3, 4), 3: (2, 2, 3)}
EVEN_SHAPES = {1: (6,), 2: (2, 4), 3: (2, 2, 4)}  # for 2 x 2 sub-sampling


def make_x(dim, seed=0, shapes=SHAPES, batch=2, positive=False):
    x = torch.randn(batch, C1, *shapes[dim], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.abs() if positive else x


def prepare(block, training=False, seed=0):
    return ref.randomize_all(block, seed=seed, eval_mode=not training)


def unit_weights(unit, training, names=('g', 'w1', 'w2', 'w3', 'w')):
    w = {name: ref.mat(getattr(unit, name)) for name in names if hasattr(unit, name)}
    w['norm'] = ref.norm_stats(unit.norm, training)
    return w


def check(block, x, expected, tol=1e-10):
    with torch.no_grad():
        y = block(x)
    assert y.shape == x.shape
    err = ref.rel_err(y, ref.from_positions(expected, x))
    assert err < tol, err


# --------------------------------------------------------------------------------------------------------- SNL
@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('normalize', ['sym', 'row', 'none'])
@pytest.mark.parametrize('symmetric', [True, False])
@pytest.mark.parametrize('cls', [SNL, gSNL])
@pytest.mark.parametrize('path,training', [('dense', False), ('factorised', True)])
def test_snl_dot_kernel_matches_eq9_and_eq11(dim, normalize, symmetric, cls, path, training):
    block = prepare(cls(C1, normalize=normalize, symmetric=symmetric, path=path, dim=dim), training)
    x = make_x(dim)
    w = unit_weights(block, training)
    wphi, wpsi = ref.mat(block.phi), ref.mat(block.psi)

    def affinity(xb):
        return ref.dot_affinity(xb, wphi, wpsi, symmetric=symmetric, normalize_as=normalize)

    check(block, x, ref.snl(ref.to_positions(x), w, affinity, order=cls.order))


@pytest.mark.parametrize('kernel', ['embedded_gaussian', 'gaussian'])
@pytest.mark.parametrize('normalize', ['sym', 'row'])
def test_snl_softmax_kernels(kernel, normalize):
    block = prepare(gSNL(C1, kernel=kernel, normalize=normalize, dim=2))
    x = make_x(2) * 0.5
    w = unit_weights(block, False)

    def affinity(xb):
        if kernel == 'gaussian':
            return ref.softmax_affinity(xb, xb, symmetric=True, normalize_as=normalize)
        return ref.softmax_affinity(xb @ ref.mat(block.phi), xb @ ref.mat(block.psi), symmetric=True,
                                    normalize_as=normalize)

    check(block, x, ref.snl(ref.to_positions(x), w, affinity, order=2))


def test_snl_use_scale_and_relu_after_norm():
    """use_scale multiplies A by Cs^-1/2 (visible without normalisation); relu=True applies ReLU after the norm."""
    block = prepare(SNL(C1, normalize='none', use_scale=True, relu=True, dim=2, path='factorised'))
    x = make_x(2, seed=3)
    w = unit_weights(block, False)
    cs = block.inter_channels

    def affinity(xb):
        return ref.dot_affinity(xb, ref.mat(block.phi), ref.mat(block.psi), normalize_as='none', scale=cs ** -0.5)

    check(block, x, ref.snl(ref.to_positions(x), w, affinity, relu_out=True))


def test_snl_zero_degree_positions():
    """Positions whose ReLU embeddings vanish have zero degree: their rows and columns of A stay 0."""
    block = prepare(SNL(C1, dim=1, path='dense'))
    with torch.no_grad():  # phi and psi only see channel 0; positions with x_0 < 0 get zero embeddings
        block.phi.weight.zero_()
        block.psi.weight.zero_()
        block.phi.weight[:, 0] = 1.0
        block.psi.weight[:, 0] = 0.5
    x = make_x(1, seed=4)
    x[:, 0, :3] = -1.0
    x[:, 0, 3:] = x[:, 0, 3:].abs() + 0.1
    w = unit_weights(block, False)

    def affinity(xb):
        a = ref.dot_affinity(xb, ref.mat(block.phi), ref.mat(block.psi))
        assert np.all(a[:3] == 0) and np.all(a[3:].sum(1) > 0)
        return a

    check(block, x, ref.snl(ref.to_positions(x), w, affinity))
    factorised = SNL(C1, dim=1, path='factorised').double().eval()
    factorised.load_state_dict(block.state_dict())
    check(factorised, x, ref.snl(ref.to_positions(x), w, affinity))


# ---------------------------------------------------------------------------------------------------------- NL
@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('kernel', ['embedded_gaussian', 'gaussian', 'dot'])
@pytest.mark.parametrize('sub_sample', [False, True])
def test_nl_matches_wang_et_al(dim, kernel, sub_sample):
    path = 'dense' if sub_sample else 'auto'
    block = prepare(NL(C1, kernel=kernel, sub_sample=sub_sample, dim=dim, path=path))
    x = make_x(dim, shapes=EVEN_SHAPES) * (0.3 if kernel == 'gaussian' else 1.0)
    spatial = EVEN_SHAPES[dim]
    w = unit_weights(block, False)
    cs = block.inter_channels

    def affinity(xb):
        if kernel == 'gaussian':  # softmax_j(x_i . x_j) on the raw input, no scale
            query, key = xb, xb
        else:
            query, key = xb @ ref.mat(block.phi), xb @ ref.mat(block.psi)
        if sub_sample:
            key = ref.maxpool(key, spatial, dim)
        if kernel == 'dot':  # theta_i . phi_j / N', no softmax, no ReLU
            return query @ key.T / key.shape[0]
        return ref.softmax_rows(query @ key.T * (cs ** -0.5 if kernel == 'embedded_gaussian' else 1.0))

    check(block, x, ref.nl(ref.to_positions(x), w, affinity, spatial=spatial, dim=dim, sub_sample=sub_sample))


# ---------------------------------------------------------------------------------------------------------- NS
@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('options', [dict(), dict(kernel='dot', normalize='row', symmetric=True),
                                     dict(kernel='embedded_gaussian', normalize='sym', symmetric=True)],
                         ids=['softmax', 'dot-row-sym', 'softmax-sym'])
def test_ns_matches_tao_et_al(dim, options):
    block = prepare(NS(C1, dim=dim, **options))
    x = make_x(dim, positive=options.get('kernel') == 'dot')
    w = unit_weights(block, False)
    cs = block.inter_channels
    if options.get('kernel') == 'dot':
        with torch.no_grad():  # non-negative embeddings: all degrees positive (NS's dot kernel has no ReLU)
            block.phi.weight.abs_()
            block.psi.weight.abs_()

    def affinity(xb):
        query, key = xb @ ref.mat(block.phi), xb @ ref.mat(block.psi)
        if options.get('kernel') == 'dot':
            return ref.dot_affinity(xb, ref.mat(block.phi), ref.mat(block.psi), normalize_as='row', embed_relu=False)
        return ref.softmax_affinity(query, key, scale=cs ** -0.5, symmetric=options.get('symmetric', False),
                                    normalize_as=options.get('normalize', 'none'))

    check(block, x, ref.ns(ref.to_positions(x), w, affinity))


# ---------------------------------------------------------------------------------------------------------- A2
@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('num_descriptors', [None, 3])
def test_a2_matches_double_attention(dim, num_descriptors):
    block = prepare(A2(C1, num_descriptors=num_descriptors, dim=dim), training=dim == 2)
    x = make_x(dim)
    w = {name: ref.mat(getattr(block, name)) for name in ('phi', 'theta', 'rho', 'w')}
    w['norm'] = ref.norm_stats(block.norm, dim == 2)
    check(block, x, ref.a2(ref.to_positions(x), w))


# -------------------------------------------------------------------------------------------------------- CGNL
@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('kernel,groups,use_scale', [('dot', 2, False), ('dot', 1, True), ('gaussian', 2, False),
                                                     ('gaussian', 4, True)])
def test_cgnl_matches_compact_generalized_nl(dim, kernel, groups, use_scale):
    """Against the closed-form kernel (``ref.cgnl_kernel``): at Taylor order 40 the series' truncation is far
    below float64's rounding (inputs at half scale: |2 gamma theta phi| < 5 here, 5^41 / 41! < 1e-20), gamma large
    enough that every term matters."""
    gamma = 0.2
    block = prepare(CGNL(C1, kernel=kernel, order=40, groups=groups, gamma=gamma, use_scale=use_scale, dim=dim))
    x = make_x(dim) * 0.5
    w = {name: ref.mat(getattr(block, name)) for name in ('theta', 'phi', 'g')}
    w['w'] = ref.grouped_mats(block.w, groups)
    w['norm'] = dict(weight=block.norm.weight.detach().numpy(), bias=block.norm.bias.detach().numpy(),
                     eps=block.norm.eps)
    check(block, x, ref.cgnl(ref.to_positions(x), w, groups=groups, kernel_fn=ref.cgnl_kernel(kernel, gamma),
                             use_scale=use_scale))


def test_cgnl_taylor_order_truncates_the_gaussian():
    """A low order is the truncated series, visibly away from the closed form; the order raises it towards it."""
    errors = []
    for order in (1, 3, 40):
        block = prepare(CGNL(C1, kernel='gaussian', order=order, groups=2, gamma=0.2))
        x = make_x(2) * 0.5
        w = {name: ref.mat(getattr(block, name)) for name in ('theta', 'phi', 'g')}
        w['w'] = ref.grouped_mats(block.w, 2)
        w['norm'] = dict(weight=block.norm.weight.detach().numpy(), bias=block.norm.bias.detach().numpy(),
                         eps=block.norm.eps)
        with torch.no_grad():
            y = block(x)
        expected = ref.cgnl(ref.to_positions(x), w, groups=2, kernel_fn=ref.cgnl_kernel('gaussian', 0.2))
        errors.append(ref.rel_err(y - x, ref.from_positions(expected, x) - x))
    assert errors[0] > errors[1] > 1e3 * errors[2] and errors[2] < 1e-10


def test_cgnl_dot_kernel_is_theta_times_phi_dot_g():
    """Dot kernel, per group: y = theta * (phi^T g), a scalar per group and sample times theta."""
    block = CGNL(C1, groups=2, dim=2).double()
    x = make_x(2)
    flat = x.flatten(2)
    theta, phi, g = (torch.einsum('oc,bcn->bon', conv.weight.flatten(1), flat) for conv in
                     (block.theta, block.phi, block.g))
    y = []
    for k in range(2):
        sl = slice(2 * k, 2 * k + 2)
        s = (phi[:, sl] * g[:, sl]).sum(dim=(1, 2), keepdim=True)
        y.append(theta[:, sl] * s)
    expected = block.w(torch.cat(y, 1).view(2, 4, *x.shape[2:]))
    torch.testing.assert_close(block.branch(x), expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------------------- Stage
@pytest.mark.parametrize('unit', ['SNL', 'gSNL', 'NL', 'NS'])
@pytest.mark.parametrize('dim', [1, 2])
def test_stage_units_share_the_affinity_of_the_stage_input(unit, dim):
    stage = prepare(NonlocalStage(C1, unit=unit, num_units=3, dim=dim), training=dim == 2)
    x = make_x(dim)
    cs = stage.inter_channels
    wphi, wpsi = ref.mat(stage.phi), ref.mat(stage.psi)
    xs = ref.to_positions(x)
    affinities = [None] * len(xs)  # A of the STAGE input, per sample, computed once

    for i, xb in enumerate(xs):
        if unit in ('SNL', 'gSNL'):
            affinities[i] = ref.dot_affinity(xb, wphi, wpsi)
        else:
            affinities[i] = ref.softmax_rows((xb @ wphi) @ (xb @ wpsi).T * cs ** -0.5)
    out = xs
    for u in stage.units:
        it = iter(affinities)
        w = unit_weights(u, dim == 2)
        fn = lambda xb: next(it)  # noqa: E731 (the same A for every unit, whatever the unit's input)
        if unit in ('SNL', 'gSNL'):
            out = ref.snl(out, w, fn, order=2 if unit == 'gSNL' else 1)
        elif unit == 'NL':
            out = ref.nl(out, w, fn)
        else:
            out = ref.ns(out, w, fn)
    check(stage, x, out)
