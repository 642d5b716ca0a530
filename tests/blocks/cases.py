"""Block configurations shared by the block tests: ``(id, factory)`` with ``factory(**overrides) -> module``."""
from functools import partial

from snl_plugins.blocks import A2, CGNL, NL, NS, SNL, NonlocalStage, gSNL

C1 = 8


def _case(cls, **kwargs):
    def factory(**overrides):
        return cls(C1, **{**kwargs, **overrides})
    return factory


# every block type and the options that change its computation (dim 2 unless a factory says otherwise)
ALL_BLOCKS = [
    *[(f'{cls.__name__}-dot-{norm}-{path}', _case(cls, normalize=norm, path=path))
      for cls in (SNL, gSNL) for norm in ('sym', 'row', 'none') for path in ('dense', 'factorised')],
    ('SNL-dot-sym-asymmetric', _case(SNL, symmetric=False, path='factorised')),
    ('SNL-embedded_gaussian', _case(SNL, kernel='embedded_gaussian')),
    ('gSNL-gaussian-row', _case(gSNL, kernel='gaussian', normalize='row')),
    ('SNL-dot-1d', _case(SNL, dim=1)),
    ('gSNL-dot-3d', _case(gSNL, dim=3, path='factorised')),
    ('NL-embedded_gaussian-fused', _case(NL)),
    ('NL-embedded_gaussian-dense', _case(NL, path='dense')),
    ('NL-gaussian', _case(NL, kernel='gaussian')),
    ('NL-dot-dense', _case(NL, kernel='dot', path='dense')),
    ('NL-dot-factorised', _case(NL, kernel='dot', path='factorised')),
    ('NL-subsample', _case(NL, sub_sample=True)),
    ('NS-softmax', _case(NS)),
    ('NS-dot-row-dense', _case(NS, kernel='dot', normalize='row', symmetric=True, path='dense')),
    ('NS-dot-row-factorised', _case(NS, kernel='dot', normalize='row', symmetric=True, path='factorised')),
    ('A2', _case(A2)),
    ('A2-3d', _case(A2, dim=3, num_descriptors=3)),
    ('CGNL-dot', _case(CGNL, groups=2)),
    ('CGNL-gaussian', _case(CGNL, kernel='gaussian', groups=2, gamma=0.1)),
    *[(f'Stage-{unit}', partial(lambda unit, **o: NonlocalStage(C1, unit=unit, num_units=2, **o), unit))
      for unit in ('SNL', 'gSNL', 'NL', 'NS')],
    ('Stage-gSNL-factorised', lambda **o: NonlocalStage(C1, unit='gSNL', num_units=2, path='factorised', **o)),
]

ALL_IDS = [name for name, _ in ALL_BLOCKS]
ALL_FACTORIES = [factory for _, factory in ALL_BLOCKS]

# the configurations with a dot kernel that runs both paths
TWO_PATHS = [
    *[(f'{cls.__name__}-{norm}-{"sym" if sym else "asym"}', _case(cls, normalize=norm, symmetric=sym))
      for cls in (SNL, gSNL) for norm in ('sym', 'row', 'none') for sym in (True, False)],
    ('SNL-count', _case(SNL, normalize='count')),
    ('SNL-scaled', _case(SNL, normalize='none', use_scale=True)),
    ('NL-dot', _case(NL, kernel='dot')),
    ('NL-dot-subsample', _case(NL, kernel='dot', sub_sample=True)),
    ('NS-dot-row', _case(NS, kernel='dot', normalize='row', symmetric=True)),
    ('NS-dot-sym', _case(NS, kernel='dot', normalize='sym', symmetric=True)),
    *[(f'Stage-{unit}', partial(lambda unit, **o: NonlocalStage(C1, unit=unit, num_units=2, kernel='dot', **o),
                                unit)) for unit in ('SNL', 'gSNL', 'NL', 'NS')],
]


def dim_of(block):
    return block.dim


def spatial_for(dim, even=True):
    return {1: (6,), 2: (2, 4), 3: (2, 2, 4)}[dim] if even else {1: (5,), 2: (3, 3), 3: (2, 3, 3)}[dim]
