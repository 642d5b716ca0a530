"""Error messages, capture_affinities and registration in mmengine's MODELS."""
import pytest
import torch
from mmengine.registry import MODELS, Registry

from snl_plugins.blocks import A2, BLOCKS, CGNL, NL, NS, SNL, NonlocalStage, capture_affinities, gSNL

from . import reference as ref

BLOCK_TYPES = [SNL, gSNL, NL, NS, A2, CGNL, NonlocalStage]


def _channels(cls):
    return 16 if cls is CGNL else 8  # CGNL's default groups=8 must divide Cs = C1 / 2


# --------------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize('cls', BLOCK_TYPES, ids=lambda c: c.__name__)
def test_wrong_input_rank(cls):
    c = _channels(cls)
    block = cls(c, dim=2)
    with pytest.raises(ValueError, match=rf'{cls.__name__}\(dim=2\) expects a 4-D input B x C x H x W, got a 3-D'):
        block(torch.randn(2, c, 5))
    block3 = cls(c, dim=3)
    with pytest.raises(ValueError, match=r'expects a 5-D input B x C x T x H x W, got a 4-D'):
        block3(torch.randn(2, c, 3, 3))
    block1 = cls(c, dim=1)
    with pytest.raises(ValueError, match=r'expects a 3-D input B x C x L, got a 4-D'):
        block1(torch.randn(2, c, 3, 3))


@pytest.mark.parametrize('cls', BLOCK_TYPES, ids=lambda c: c.__name__)
def test_wrong_channel_count(cls):
    c = _channels(cls)
    with pytest.raises(ValueError, match=rf'built with in_channels={c}, but the input has 6 channels'):
        cls(c)(torch.randn(2, 6, 3, 3))


def test_not_a_tensor():
    with pytest.raises(TypeError, match='SNL expects a tensor, got list'):
        SNL(8)([1, 2])


@pytest.mark.parametrize('build,message', [
    (lambda: SNL(8, kernel='cosine'), "unknown kernel 'cosine'; expected one of 'dot', 'embedded_gaussian'"),
    (lambda: NL(8, kernel='concatenation'), "unknown kernel 'concatenation'"),
    (lambda: CGNL(16, kernel='embedded_gaussian'), "unknown kernel 'embedded_gaussian'; expected one of 'dot', "
                                                  "'gaussian'"),
    (lambda: SNL(8, normalize='l1'), "unknown normalize 'l1'; expected one of 'sym', 'row'"),
    (lambda: NS(8, normalize='softmax'), "unknown normalize 'softmax'"),
    (lambda: SNL(8, path='sparse'), "unknown path 'sparse'; expected one of 'auto', 'dense', 'factorised'"),
    (lambda: SNL(8, kernel='embedded_gaussian', path='factorised'),
     "path=\"factorised\" needs the dot kernel: the 'embedded_gaussian' kernel"),
    (lambda: NL(8, path='factorised'), "path=\"factorised\" needs the dot kernel"),
    (lambda: NL(8, kernel='gaussian', path='factorised'), "the 'gaussian' kernel .* has no low-rank form"),
    (lambda: NonlocalStage(8, unit='A2'), "unknown stage unit 'A2'; expected one of SNL, gSNL, NL, NS"),
    (lambda: NonlocalStage(8, unit='snl'), "unknown stage unit 'snl'"),
    (lambda: NonlocalStage(8, num_units=0), 'num_units must be >= 1'),
    (lambda: NonlocalStage(8, unit='NL', path='factorised'), 'needs the dot kernel'),
    (lambda: SNL(8, dim=4), 'dim must be 1, 2 or 3'),
    (lambda: SNL(0), 'in_channels must be a positive int'),
    (lambda: CGNL(8, groups=3), r'groups=3 must divide in_channels \(8\)'),
    (lambda: NS(8, sub_sample=True), 'NS subtracts D_A Z at the query positions'),
    (lambda: NL(8, sub_sample=True, symmetric=True), 'cannot be symmetric'),
    (lambda: SNL(8, norm_cfg=dict(type='NoSuchNorm')), "unknown norm type 'NoSuchNorm'"),
    (lambda: CGNL(8, groups=0), 'groups must be a positive int, got 0'),
    (lambda: SNL(64, reduction=1000), r'reduction=1000 leaves no channels of in_channels=64 \(Cs = 0.064\): use '
                                      'reduction <= 64 or set inter_channels'),
    (lambda: SNL(64, reduction=0), 'reduction must be a positive number, got 0'),
    (lambda: SNL(64, inter_channels=2.7), 'inter_channels must be a positive int, got 2.7'),
    (lambda: SNL(64, inter_channels=True), 'inter_channels must be a positive int, got True'),
    (lambda: SNL(8).train()(torch.rand(1, 8, 1, 1)), r'SNL in training mode got one sample of one position \(shape '
                                                     r'\(1, 8, 1, 1\)\): its batch norm needs more than one value'),
])
def test_clear_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_empty_batch_and_single_values():
    """An empty batch goes through every block (as through a convolution); one sample of one position trains where
    the norm allows it (CGNL's GroupNorm) and evaluates everywhere."""
    for cls in (SNL, gSNL, NL, NS, A2, CGNL):
        block = cls(_channels(cls))
        x = torch.rand(0, block.in_channels, 5, 5)
        assert block(x).shape == x.shape, cls.__name__
        assert block.eval()(torch.rand(1, block.in_channels, 1, 1)).shape == (1, block.in_channels, 1, 1)
    assert CGNL(16, groups=4).train()(torch.rand(1, 16, 1, 1)).shape == (1, 16, 1, 1)


def test_dense_affinities_above_the_limit_are_refused_with_their_size(monkeypatch):
    from snl_plugins.ops import DENSE_LIMIT_ENV, DenseAffinityTooLarge
    x = torch.rand(1, 8, 8, 104, 104)  # 86528 positions: 28 GiB per float32 copy of N x N
    for block, what in ((SNL(8, kernel='embedded_gaussian', dim=3), 'a softmax kernel with symmetrisation'),
                        (NL(8, symmetric=True, dim=3), 'a softmax kernel with symmetrisation'),
                        (SNL(8, path='dense', dim=3), 'the dot kernel with path="dense"')):
        with pytest.raises(DenseAffinityTooLarge, match=rf'{what}.* dense 1 x 86528 x 86528 affinity: 27.9 GiB per '
                                                        r'copy .*above the limit of 4 GiB \(SNL_DENSE_LIMIT_GIB'):
            block(x)
    # what still runs there: the factorised dot kernel and the fused softmax
    assert SNL(8, dim=3)(x[..., :52, :52]).shape == (1, 8, 8, 52, 52)
    assert NL(8, dim=3)(x[..., :52, :52]).shape == (1, 8, 8, 52, 52)
    monkeypatch.setenv(DENSE_LIMIT_ENV, '0.001')  # the limit is settable: 1 MiB refuses N = 1024 in float32
    with pytest.raises(DenseAffinityTooLarge, match='1 x 1024 x 1024 affinity: 0.00391 GiB per copy.*limit of 0.001'):
        SNL(8, path='dense')(torch.rand(1, 8, 32, 32))


def test_shared_affinity_units_need_an_affinity():
    for cls in (SNL, NL, NS):
        unit = cls(8, shared_affinity=True)
        assert not hasattr(unit, 'phi')
        with pytest.raises(ValueError, match='shared_affinity=True.*pass the affinity'):
            unit(torch.randn(1, 8, 2, 2))
    for cls in (A2, CGNL):
        c = _channels(cls)
        block = cls(c)
        aff = SNL(c).compute_affinity(torch.randn(1, c, 2, 2))
        with pytest.raises(ValueError, match='cannot take a shared affinity'):
            block(torch.randn(1, c, 2, 2), aff)


# -------------------------------------------------------------------------------------------------------- capture
def test_capture_affinities_matches_the_reference():
    snl = ref.randomize_all(SNL(8, path='factorised'))
    nl = ref.randomize_all(NL(8))
    stage = ref.randomize_all(NonlocalStage(8, unit='gSNL', num_units=2, normalize='row'))
    model = torch.nn.Sequential(snl, nl, stage)
    x = torch.randn(2, 8, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert snl.affinity is None and not snl.record_affinity

    with torch.no_grad():
        model(x)  # outside the context: nothing recorded
    assert snl.affinity is None and nl.affinity is None and stage.affinity is None

    with capture_affinities(model) as records:
        with torch.no_grad():
            h1 = snl(x)
            h2 = nl(h1)
            model(x)
    assert set(records) == {'0', '1', '2'}  # the stage's units are not blocks of their own
    assert [len(records[k]) for k in ('0', '1', '2')] == [2, 2, 1]

    def reference_affinities(xb_all, block, kind):
        out = []
        for xb in ref.to_positions(xb_all):
            if kind == 'snl':
                out.append(ref.dot_affinity(xb, ref.mat(block.phi), ref.mat(block.psi), normalize_as='sym'))
            elif kind == 'stage':
                out.append(ref.dot_affinity(xb, ref.mat(block.phi), ref.mat(block.psi), normalize_as='row'))
            else:
                cs = block.inter_channels
                out.append(ref.softmax_rows((xb @ ref.mat(block.phi)) @ (xb @ ref.mat(block.psi)).T * cs ** -0.5))
        return torch.tensor(ref.np.stack(out))

    expected = reference_affinities(x, snl, 'snl')
    for aff in records['0']:
        assert aff.form == 'factorised' and not aff.left.requires_grad
        assert ref.rel_err(aff.to_dense(), expected) < 1e-12
    expected_nl = reference_affinities(h1, nl, 'nl')
    assert records['1'][0].form == 'fused_softmax'
    assert ref.rel_err(records['1'][0].to_dense(), expected_nl) < 1e-12
    # the stage's affinity is that of the stage input (the output of block 1 within model(x))
    assert ref.rel_err(records['2'][0].to_dense(), reference_affinities(nl(snl(x)), stage, 'stage')) < 1e-12
    del h2

    # after the context: flags reset, nothing kept, further forwards not recorded
    assert not any(m.record_affinity for m in (snl, nl, stage))
    assert snl.affinity is None and nl.affinity is None and stage.affinity is None
    with torch.no_grad():
        model(x)
    assert [len(records[k]) for k in ('0', '1', '2')] == [2, 2, 1]
    assert snl.affinity is None


def test_capture_records_a2_and_cgnl_equivalent_affinities():
    a2, cgnl = ref.randomize_all(A2(8)), ref.randomize_all(CGNL(8, groups=2))
    x = torch.randn(2, 8, 2, 3, dtype=torch.float64)
    with capture_affinities(torch.nn.ModuleList([a2, cgnl])) as records, torch.no_grad():
        a2(x)
        cgnl(x)
    a = records['0'][0].to_dense()  # rho-bar^T theta-bar: N x N, rows sum to one (both softmaxes)
    assert a.shape == (2, 6, 6)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 6, dtype=torch.float64))
    assert records['1'][0].shape == (2 * 2, 2 * 6, 2 * 6)  # (B G) x (Cs/G N) x (Cs/G N)


# --------------------------------------------------------------------------------------------------- registration
@pytest.mark.parametrize('name', sorted(BLOCKS))
def test_builds_from_mmengine_registry(name):
    c = _channels(BLOCKS[name])
    block = MODELS.build(dict(type=name, in_channels=c))
    assert type(block) is BLOCKS[name]
    x = torch.randn(2, c, 2, 2)
    with torch.no_grad():
        assert torch.equal(block(x), x)
    built = MODELS.build(dict(type=name, in_channels=c, dim=1, inter_channels=8))
    assert built.dim == 1 and built.inter_channels == 8


@pytest.mark.parametrize('name', sorted(BLOCKS))
def test_builds_from_a_child_registry(name):
    child = Registry(f'child_{name}', parent=MODELS, scope=f'child_{name.lower()}')
    c = _channels(BLOCKS[name])
    assert type(child.build(dict(type=name, in_channels=c))) is BLOCKS[name]
    assert type(child.build(dict(type=f'mmengine.{name}', in_channels=c))) is BLOCKS[name]


def test_norm_types_must_fit_the_blocks_dimensionality():
    assert isinstance(SNL(8, dim=3, norm_cfg=dict(type='BN3d')).norm, torch.nn.BatchNorm3d)
    assert isinstance(SNL(8, dim=3, norm_cfg=dict(type='BN')).norm, torch.nn.BatchNorm3d)
    with pytest.raises(ValueError, match="'BN2d' does not fit a 3D block"):
        SNL(8, dim=3, norm_cfg=dict(type='BN2d'))


def test_norm_types_mean_what_their_names_say():
    from snl_plugins.blocks import build_block_norm, build_norm_layer
    assert build_norm_layer is build_block_norm  # the old name, for one release
    layer_norm = SNL(8, norm_cfg=dict(type='GN', num_groups=1)).norm
    assert isinstance(layer_norm, torch.nn.GroupNorm) and layer_norm.num_groups == 1
    with pytest.raises(ValueError, match="'LN' would normalise the last axis.*type='GN', num_groups=1"):
        SNL(8, norm_cfg=dict(type='LN'))
    assert isinstance(SNL(8, dim=1, norm_cfg=dict(type='IN')).norm, torch.nn.InstanceNorm1d)


def test_public_base_class():
    import snl_plugins
    from snl_plugins.blocks.base import _NonlocalNd
    assert snl_plugins.NonlocalBlock is _NonlocalNd  # the old private name, for one release
    assert all(issubclass(cls, snl_plugins.NonlocalModule) for cls in BLOCKS.values())
    # a stage holds units, each a block with its own norm; it is a NonlocalModule, not itself a block
    assert not issubclass(snl_plugins.NonlocalStage, snl_plugins.NonlocalBlock)
    assert all(issubclass(cls, snl_plugins.NonlocalBlock) for n, cls in BLOCKS.items() if n != 'NonlocalStage')
