"""The relations the blocks' docstrings state between NL, NS and SNL, and where they stop holding: NL is SNL with
W1 = 0 and NS is SNL with W1 = -W2 only under the same affinity (and, for NS, rows summing to 1)."""
import torch

from snl_plugins.blocks import NL, NS, SNL

from . import reference as ref

SOFTMAX_AS_NL = dict(kernel='embedded_gaussian', normalize='none', symmetric=False, use_scale=True)


def _snl_from(block, w1_sign: float, **snl_kwargs) -> SNL:
    """An SNL holding ``block``'s phi, psi, g and norm, with W2 = W and W1 = w1_sign * W."""
    snl = ref.randomize_all(SNL(8, zero_init=False, **snl_kwargs))
    state = {k: v for k, v in block.state_dict().items() if not k.startswith('w.')}
    state.update({'w2.weight': block.w.weight, 'w1.weight': w1_sign * block.w.weight})
    snl.load_state_dict(state)
    return snl


def _x():
    return torch.randn(2, 8, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_nl_is_snl_with_w1_zero_under_the_same_affinity_only():
    nl = ref.randomize_all(NL(8, zero_init=False))
    with torch.no_grad():
        x = _x()
        assert ref.rel_err(_snl_from(nl, 0.0, **SOFTMAX_AS_NL)(x) - x, nl(x) - x) < 1e-12
        assert ref.rel_err(_snl_from(nl, 0.0)(x) - x, nl(x) - x) > 1e-2  # SNL's default affinity: another block


def test_ns_is_snl_with_w1_minus_w2_where_rows_sum_to_one_only():
    ns = ref.randomize_all(NS(8, zero_init=False))  # row softmax: D_A = I
    with torch.no_grad():
        x = _x()
        assert ref.rel_err(_snl_from(ns, -1.0, **SOFTMAX_AS_NL)(x) - x, ns(x) - x) < 1e-12
        row = dict(kernel='embedded_gaussian', normalize='row', symmetric=True, use_scale=True)
        ns_row = ref.randomize_all(NS(8, zero_init=False, **row))  # symmetrised, then rows normalised: D_A = I
        assert ref.rel_err(_snl_from(ns_row, -1.0, **row)(x) - x, ns_row(x) - x) < 1e-12
        sym = dict(kernel='embedded_gaussian', normalize='sym', symmetric=True, use_scale=True)
        ns_sym = ref.randomize_all(NS(8, zero_init=False, **sym))  # 'sym': D_A is not I
        assert ref.rel_err(_snl_from(ns_sym, -1.0, **sym)(x) - x, ns_sym(x) - x) > 1e-3
