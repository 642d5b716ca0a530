"""The precision matrix at small N: every block and path, in every reduced-precision mode and at input scales 0.01 to
1000, against the same block in float64 (``snl_plugins.analysis.precision``; the float64 block is itself checked
against the papers' equations in ``test_reference.py``). The full matrix at user sizes: docs/precision.md."""
import pytest
import torch

from snl_plugins.analysis.precision import (CASES, GRAD_TOLERANCE, REDUCED_MODES, TOLERANCE, measure,
                                            to_markdown, within_tolerance)
from snl_plugins.blocks import CGNL, NL, SNL

SCALES = (0.01, 1.0, 100.0, 1000.0)
SHAPES = {1: (2, 16, 24), 2: (2, 16, 6, 8), 3: (2, 16, 2, 4, 4)}


@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('case', list(CASES))
def test_block_holds_in_every_mode_and_scale(case, dim):
    factory, _ = CASES[case]
    for scale in SCALES:
        rows = measure(factory, SHAPES[dim], scale, REDUCED_MODES)
        assert [r['mode'] for r in rows] == ['float32', *REDUCED_MODES]
        assert all(r['finite'] for r in rows), to_markdown([dict(case=case, **r) for r in rows])
        bad = [r for r in rows if not within_tolerance(r)]
        assert not bad, to_markdown([dict(case=case, **r) for r in bad])


def test_the_issues_example_has_finite_gradients_close_to_float32():
    """SNL factorised on post-ReLU res4-like features (512 channels, 48 x 48) after some training, float16 autocast:
    finite gradients (they were inf / NaN), and with the loss scale AMP trains with (GradScaler's 2^16) every
    gradient within the float16 tolerance of float32's. Without a loss scale the small ones underflow float16."""
    torch.manual_seed(0)
    block = SNL(512, path='factorised')
    torch.nn.init.constant_(block.norm.weight, 1.0)
    x = torch.randn(1, 512, 48, 48).relu() * 3
    grads = {}
    for dtype, loss_scale in ((None, 1.0), (torch.float16, 1.0), (torch.float16, 2.0 ** 16)):
        xi = x.clone().requires_grad_()
        block.zero_grad()
        with torch.autocast('cpu', dtype=dtype or torch.float32, enabled=dtype is not None):
            y = block(xi)
        (y.float().square().mean() * loss_scale).backward()
        grads[dtype, loss_scale] = [xi.grad / loss_scale] + [p.grad / loss_scale for p in block.parameters()]
    names = ['x'] + [name for name, _ in block.named_parameters()]
    for name, g16, g16_scaled, g32 in zip(names, grads[torch.float16, 1.0], grads[torch.float16, 2.0 ** 16],
                                          grads[None, 1.0]):
        assert torch.isfinite(g16).all() and torch.isfinite(g16_scaled).all(), name
        assert ((g16_scaled.float() - g32).norm() / g32.norm()).item() < GRAD_TOLERANCE['autocast-float16'], name


def test_tolerances_are_the_stated_ones():
    assert TOLERANCE['autocast-float16'] == TOLERANCE['half'] == 1e-2
    assert TOLERANCE['autocast-bfloat16'] == TOLERANCE['bfloat16'] == 5e-2


def test_within_tolerance_rejects_what_it_should():
    row = dict(mode='autocast-float16', finite=True, out=5e-3, branch=5e-3, grad=1e-2, embedding_grad=3e-2,
               float32=dict(out=1e-7, branch=1e-7, grad=1e-7, embedding_grad=1e-7), stored=None)
    assert within_tolerance(row)
    assert not within_tolerance({**row, 'finite': False})
    assert not within_tolerance({**row, 'branch': 0.2})
    assert not within_tolerance({**row, 'grad': 0.5})
    # ill-conditioned (float32 itself off): the float16 error may be float16's rounding times float32's
    assert not within_tolerance({**row, 'embedding_grad': 0.1})
    assert within_tolerance({**row, 'grad': 0.5, 'float32': dict(out=1e-7, branch=1e-7, grad=1e-3,
                                                                 embedding_grad=1e-7)})


@pytest.mark.parametrize('block', [SNL(8), NL(8), CGNL(8, groups=2)], ids=['SNL', 'NL', 'CGNL'])
def test_dtype_mismatch_outside_autocast_is_named(block):
    with pytest.raises(TypeError, match=r'holds torch.float64 parameters but got a torch.float32 input outside '
                                        r'torch.autocast'):
        block.double()(torch.randn(2, 8, 4, 4))
    block.float()
    with pytest.raises(TypeError, match='holds torch.float32 parameters but got a torch.float16 input'):
        block(torch.randn(2, 8, 4, 4).half())
    with torch.autocast('cpu', dtype=torch.bfloat16):  # inside autocast, any floating input is fine
        assert torch.isfinite(block(torch.randn(2, 8, 4, 4).half())).all()


def test_pure_half_cgnl_updates_its_norm_statistics_in_place():
    """The float32 branch of a float16 module writes the norm's running statistics back (BatchNorm as norm)."""
    block = CGNL(8, groups=2, norm_cfg=dict(type='BN')).half().train()
    before = block.norm.running_mean.clone()
    block(torch.rand(2, 8, 4, 4).half() * 100)
    assert block.norm.running_mean.dtype == torch.float16
    assert not torch.equal(block.norm.running_mean, before)
