"""How every block and path holds in reduced precision: output and gradients against the same block in float64.

A case is one block configuration (``CASES``) at one input size and one input scale, run in one precision mode
(``MODES``): float32, TF32 (CUDA only), ``torch.autocast`` with float16 or bfloat16 (float32 parameters, what
mmengine's ``AmpOptimWrapper`` does), or the whole module and input in float16 / bfloat16. The block is made to look
trained (every norm at weight ~1, so the branch counts), in train mode (batch statistics, as when training), and
given post-ReLU inputs ``relu(randn) * scale``. The reference is a float64 copy with the same weights, itself
checked against the papers' equations by ``tests/blocks/test_reference.py``.

Errors are norm-wise relative errors ``|a - ref| / |ref|``: ``out`` of the block output, ``branch`` of its residual
branch (output minus input, where the mode keeps the input in float32), ``grad`` the largest over the input gradient
of the branch (of the whole block in float16 / bfloat16 modules, where the input is float16 / bfloat16 too) and every
parameter gradient (relative to its norm, or to 1e-3 of the largest parameter gradient's where its own is below
that), for the loss ``sum(y * gy)`` with a fixed ``gy`` of unit norm per
element on average. Float16 gradients are taken as AMP training takes them: the loss multiplied by a dynamic loss
scale (2^16, halved while a gradient overflows, as ``GradScaler`` does; ``loss_scale`` in each row) and the gradients
divided by it; without it, the small gradients of a large input underflow float16 (bfloat16 has float32's range).
The logic behind ``tools/analysis/precision_matrix.py`` and ``tests/blocks/test_precision.py``.
"""
import copy
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..blocks import A2, CGNL, NL, NS, SNL, NonlocalStage, gSNL

__all__ = ['MODES', 'REDUCED_MODES', 'CASES', 'TOLERANCE', 'GRAD_TOLERANCE', 'EMBEDDING_GRAD_TOLERANCE',
           'ROUNDING_RATIO', 'STORED_FACTOR', 'tolerance_basis', 'within_tolerance',
           'make_trained_like', 'measure', 'run_matrix', 'to_markdown']

# name: (parameter dtype, input dtype, autocast dtype or None, TF32 matmuls)
MODES = {
    'float32': (torch.float32, torch.float32, None, False),
    'tf32': (torch.float32, torch.float32, None, True),
    'autocast-float16': (torch.float32, torch.float32, torch.float16, False),
    'autocast-bfloat16': (torch.float32, torch.float32, torch.bfloat16, False),
    'half': (torch.float16, torch.float16, None, False),
    'bfloat16': (torch.bfloat16, torch.bfloat16, None, False),
}
REDUCED_MODES = ('autocast-float16', 'autocast-bfloat16', 'half', 'bfloat16')

# Largest relative error accepted per mode, for the output / branch and for the gradients: float16 keeps 11
# significant bits (~5e-4 per rounding), bfloat16 8 (~4e-3), and a block chains a few dozen roundings.
TOLERANCE = {'float32': 1e-4, 'tf32': 1e-2, 'autocast-float16': 1e-2, 'half': 1e-2,
             'autocast-bfloat16': 5e-2, 'bfloat16': 5e-2}
GRAD_TOLERANCE = {'float32': 1e-3, 'tf32': 2e-2, 'autocast-float16': 2e-2, 'half': 2e-2,
                  'autocast-bfloat16': 1.2e-1, 'bfloat16': 1.2e-1}
# The affinity embeddings' gradients on their own (measured): a normalised A does not change when phi's output is
# scaled, so phi's gradient is orthogonal to it, a difference of larger terms that loses a few more bits.
EMBEDDINGS = ('phi', 'psi')
EMBEDDING_GRAD_TOLERANCE = {'float32': 1e-3, 'tf32': 5e-2, 'autocast-float16': 5e-2, 'half': 5e-2,
                            'autocast-bfloat16': 3e-1, 'bfloat16': 3e-1}
ERRORS = ('out', 'branch', 'grad', 'embedding_grad')
STORED_FACTOR = 4.0
# unit roundoff of the mode over float32's (2^-11 / 2^-24 for float16 and TF32, 2^-8 / 2^-24 for bfloat16)
ROUNDING_RATIO = {'float32': 1.0, 'tf32': 2.0 ** 13, 'autocast-float16': 2.0 ** 13, 'half': 2.0 ** 13,
                  'autocast-bfloat16': 2.0 ** 16, 'bfloat16': 2.0 ** 16}


def _case(cls, **kwargs) -> Callable[[int, int], nn.Module]:
    return lambda channels, dim: cls(channels, dim=dim, **kwargs)


def _stage(unit, **kwargs) -> Callable[[int, int], nn.Module]:
    return lambda channels, dim: NonlocalStage(channels, unit=unit, num_units=3, dim=dim, **kwargs)


# Every block and path, with its cost in N: 'linear', 'dense' (holds N x N: memory) or 'fused' (the fused softmax:
# N^2 time, no N x N memory); the last two are limited to smaller N at user sizes (``run_matrix``).
CASES: Dict[str, Tuple[Callable[[int, int], nn.Module], str]] = {
    'SNL factorised': (_case(SNL, path='factorised'), 'linear'),
    'SNL factorised row': (_case(SNL, path='factorised', normalize='row'), 'linear'),
    'SNL dense': (_case(SNL, path='dense'), 'dense'),
    'SNL dense row': (_case(SNL, path='dense', normalize='row'), 'dense'),
    'gSNL factorised': (_case(gSNL, path='factorised'), 'linear'),
    'gSNL dense': (_case(gSNL, path='dense'), 'dense'),
    'SNL embedded Gaussian': (_case(SNL, kernel='embedded_gaussian'), 'dense'),
    'Stage gSNL x3 factorised': (_stage('gSNL', path='factorised'), 'linear'),
    'Stage gSNL x3 dense': (_stage('gSNL', path='dense'), 'dense'),
    'Stage NS x3 (softmax)': (_stage('NS'), 'fused'),
    'NL fused softmax': (_case(NL), 'fused'),
    'NL dense softmax': (_case(NL, path='dense'), 'dense'),
    'NL dot factorised': (_case(NL, kernel='dot', path='factorised'), 'linear'),
    'NS dot row factorised': (_case(NS, kernel='dot', normalize='row', symmetric=True, path='factorised'), 'linear'),
    'A2': (_case(A2), 'linear'),
    'CGNL dot': (_case(CGNL, groups=4), 'linear'),
    'CGNL Gaussian': (_case(CGNL, kernel='gaussian', groups=4), 'linear'),
}


def within_tolerance(row: dict) -> bool:
    """Finite, and each error within the mode's tolerance, or within ``ROUNDING_RATIO`` times float32's error on
    the same case: where float32 itself is far from float64 (a saturated softmax at input scale 100: its gradients
    are 1e-80 against 1e-8), the case is ill-conditioned and a mode's rounding is amplified alike; or, for a float16
    / bfloat16 module, within ``STORED_FACTOR`` times the error of float64 arithmetic on the input and weights
    stored in that dtype (what no computation on them can undo)."""
    return tolerance_basis(row) != 'outside'


def tolerance_basis(row: dict) -> str:
    """On what a row is within the tolerances: 'tolerance' (every error within the mode's tolerance),
    'ill-conditioned' (some error only within ``ROUNDING_RATIO`` times float32's), 'stored input' (only within
    ``STORED_FACTOR`` times what the input and weights stored in a float16 / bfloat16 module cost), or 'outside'."""
    if not row['finite']:
        return 'outside'
    mode = row['mode']
    tol = {'out': TOLERANCE[mode], 'branch': TOLERANCE[mode], 'grad': GRAD_TOLERANCE[mode],
           'embedding_grad': EMBEDDING_GRAD_TOLERANCE[mode]}
    stored = row.get('stored') or {}
    over = [k for k in tol if row[k] > tol[k]]  # NaN (no branch in a float16 module) compares False
    if not over:
        return 'tolerance'
    if all(row[k] <= ROUNDING_RATIO[mode] * row['float32'][k] for k in over):
        return 'ill-conditioned'
    if all(row[k] <= max(ROUNDING_RATIO[mode] * row['float32'][k], STORED_FACTOR * stored.get(k, 0.0))
           for k in over):
        return 'stored input'
    return 'outside'


def make_trained_like(block: nn.Module, seed: int = 0) -> nn.Module:
    """Norms at weight in [0.5, 1.5] and small biases (a zero-initialised block is the identity and shows nothing);
    train mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return block.train()


def _rel(a: Optional[Tensor], ref: Optional[Tensor], floor: float = 0.0) -> float:
    """``|a - ref| / max(|ref|, floor)``."""
    if a is None or ref is None:
        return float('nan') if (a is None) != (ref is None) else 0.0
    a, ref = a.double(), ref.double()
    if not torch.isfinite(a).all():
        return float('inf')
    return ((a - ref).norm() / ref.norm().clamp_min(max(floor, 1e-300))).item()


def _run(block: nn.Module, x: Tensor, gy: Tensor, autocast: Optional[torch.dtype], loss_scale: float = 1.0) -> dict:
    """Forward + backward of ``sum(y * gy) * loss_scale``; outputs, gradients (divided by ``loss_scale``, in float64
    when it is not 1) and the time of both."""
    x = x.detach().clone().requires_grad_()
    device = x.device.type
    if device == 'cuda':
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.autocast(device, dtype=autocast or torch.float32, enabled=autocast is not None):
        y = block(x)
    ((y * gy.to(y.dtype)).sum() * loss_scale).backward()
    if device == 'cuda':
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0

    def unscale(g):
        return g if g is None or loss_scale == 1.0 else g.double() / loss_scale

    return dict(y=y.detach(), x=x.detach(), x_grad=unscale(x.grad), seconds=seconds,
                grads={k: unscale(p.grad) for k, p in block.named_parameters()})


def _finite(run: dict) -> bool:
    return bool(torch.isfinite(run['y']).all()) and all(
        g is not None and bool(torch.isfinite(g).all()) for g in [run['x_grad'], *run['grads'].values()])


def measure(factory: Callable[[int, int], nn.Module], shape: Sequence[int], scale: float,
            modes: Iterable[str] = REDUCED_MODES, device: str = 'cpu', seed: int = 0) -> List[dict]:
    """One row per mode for the block ``factory(C1, dim)`` on a B x C1 x spatial input ``shape``."""
    channels, dim = shape[1], len(shape) - 2
    torch.manual_seed(seed)
    base = make_trained_like(factory(channels, dim), seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x = (torch.randn(*shape, generator=gen).relu() * scale).to(device)
    gy = (torch.randn(*shape, generator=gen) / len(x[0].flatten()) ** 0.5).to(device)
    ref = _run(copy.deepcopy(base).double().to(device), x.double(), gy.double(), None)
    ref_branch, ref_x_grad = ref['y'] - ref['x'], ref['x_grad'] - gy.double()
    # A parameter gradient is compared relative to its own norm, or to 1e-3 of the largest parameter gradient's
    # where its own is below that: a saturated softmax gives phi / psi gradients of 1e-80 in float64, and 1e-8 in
    # float32 (both nothing to an optimiser) would otherwise count as an error of 1e72.
    ref_scale = 1e-3 * max(g.norm().item() for g in ref['grads'].values())

    def errors(run: dict, rounded_input: bool) -> dict:
        y = run['y']
        # the branch (y - x) and the input gradient of the branch (x.grad - gy) where the input is float32 or
        # float64; in a float16 module y - x cancels at x's precision and x.grad = gy + that rounds at gy's
        if rounded_input:
            branch, x_grad = float('nan'), _rel(run['x_grad'], ref['x_grad'])
        else:
            branch = _rel(y.double() - x.double(), ref_branch)
            x_grad = _rel(run['x_grad'].double() - gy.double(), ref_x_grad)
        grads = {k: _rel(run['grads'][k], g, ref_scale) for k, g in ref['grads'].items()}
        embedding = [v for k, v in grads.items() if k.split('.')[-2] in EMBEDDINGS]
        return dict(out=_rel(y, ref['y']), branch=branch,
                    grad=max([x_grad] + [v for k, v in grads.items() if k.split('.')[-2] not in EMBEDDINGS]),
                    embedding_grad=max(embedding, default=0.0))

    rows, stored = [], {}
    for mode in ['float32', *[m for m in modes if m != 'float32']]:  # float32 first: the conditioning (below)
        param_dtype, input_dtype, autocast, tf32 = MODES[mode]
        if tf32 and device != 'cuda':
            continue
        rounded_input = input_dtype != torch.float32
        if rounded_input and input_dtype not in stored:  # float64 on the input and weights stored in the dtype
            stored[input_dtype] = errors(_run(copy.deepcopy(base).to(device=device, dtype=input_dtype).double(),
                                              x.to(input_dtype).double(), gy.double(), None), True)
        # float16 gradients are trained with a dynamic loss scale (mmengine's AmpOptimWrapper, our
        # CPUAmpOptimWrapper): 2^16 first, halved while a gradient overflows, as GradScaler does
        scaled = torch.float16 in (autocast, param_dtype)
        loss_scale = 2.0 ** 16 if scaled else 1.0
        previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        try:
            while True:
                block = copy.deepcopy(base).to(device=device, dtype=param_dtype)
                if device == 'cuda':  # a warm-up (kernel choice, allocations) for the time; its gradients dropped
                    _run(block, x.to(input_dtype), gy.to(input_dtype), autocast, loss_scale)
                    block.zero_grad(set_to_none=True)
                run = _run(block, x.to(input_dtype), gy.to(input_dtype), autocast, loss_scale)
                finite = _finite(run)
                if finite or not scaled or loss_scale <= 2.0 ** -16:
                    break
                loss_scale /= 2
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
        row = dict(mode=mode, shape=list(shape), scale=scale, finite=finite, **errors(run, rounded_input),
                   loss_scale=loss_scale, seconds=run['seconds'], reference_seconds=ref['seconds'])
        row['float32'] = {k: (rows[0] if rows else row)[k] for k in ERRORS}  # rows[0]: the float32 run
        row['stored'] = stored.get(input_dtype)
        row['within_tolerance'] = within_tolerance(row)
        rows.append(row)
    return rows


def run_matrix(cases: Iterable[str], shapes: Iterable[Sequence[int]], scales: Iterable[float],
               modes: Iterable[str], device: str = 'cpu', limits: Optional[Dict[str, int]] = None,
               log: Optional[Callable[[str], None]] = None) -> List[dict]:
    """Every case x shape x scale x mode; a case of a kind in ``limits`` ('dense', 'fused': the largest N) is
    skipped (and listed) above its limit."""
    limits = dict(dense=4096, fused=16384) if limits is None else limits
    rows = []
    for name in cases:
        factory, kind = CASES[name]
        for shape in shapes:
            positions = 1
            for s in shape[2:]:
                positions *= s
            if kind in limits and positions > limits[kind]:
                rows.append(dict(case=name, shape=list(shape), skipped=f'{kind}: N = {positions} > {limits[kind]}'))
                continue
            for scale in scales:
                t0 = time.perf_counter()
                for row in measure(factory, shape, scale, modes, device):
                    rows.append(dict(case=name, **row))
                if log:
                    log(f'{name} {tuple(shape)} scale {scale:g}: {time.perf_counter() - t0:.1f} s')
    return rows


def _fmt(v: float) -> str:
    return 'n/a' if v != v else ('inf' if v == float('inf') else f'{v:.1e}')


def to_markdown(rows: List[dict]) -> str:
    """One table row per case, shape, scale and mode (errors, finite, whether within ``TOLERANCE``, time)."""
    lines = ['| block | input | scale | mode | finite | out | branch | grad | phi/psi grad | float32 grad | '
             'loss scale | within tol. | time (ms) | float64 (ms) |', '|' + '---|' * 14]
    for r in rows:
        shape = 'x'.join(map(str, r['shape']))
        if 'skipped' in r:
            lines.append(f"| {r['case']} | {shape} | | | | | | | | | | skipped: {r['skipped']} | | |")
            continue
        basis = tolerance_basis(r)
        ok = ('yes' if basis == 'tolerance' else f'yes ({basis})') if basis != 'outside' else 'NO'
        lines.append(f"| {r['case']} | {shape} | {r['scale']:g} | {r['mode']} | {'yes' if r['finite'] else 'NO'} | "
                     f"{_fmt(r['out'])} | {_fmt(r['branch'])} | {_fmt(r['grad'])} | {_fmt(r['embedding_grad'])} | "
                     f"{_fmt(max(r['float32']['grad'], r['float32']['embedding_grad']))} | {r['loss_scale']:g} | "
                     f"{ok} | "
                     f"{r['seconds'] * 1e3:.1f} | {r['reference_seconds'] * 1e3:.1f} |")
    return '\n'.join(lines) + '\n'
