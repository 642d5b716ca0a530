"""ONNX export of an :class:`~snl_plugins.deploy.models.InferenceModel`, checked end to end.

:func:`export_and_verify` exports with torch's exporter, validates the file with ``onnx.checker``, runs it with ONNX
Runtime (CPU) on the export input and on a second input (another batch where the batch axis is dynamic, another
H x W where the spatial axes are), and compares each output with PyTorch eager on the same input: it passes when
``max |ort - eager| <= atol + rtol * max |eager|`` for every input.

Exporters (``exporter=``):

- ``'torchscript'`` (default): ``torch.onnx.export(..., dynamo=False)``, the TorchScript tracer. Every family and
  block type of this package exports with it, dynamic batch and H x W included. torch marks it deprecated (a
  ``DeprecationWarning``) but ships it in 2.14.
- ``'dynamo'``: ``torch.onnx.export(..., dynamo=True)`` (``torch.export`` + onnxscript). Exports static graphs and
  dynamic ones on the factorised path; it fails on the dense path with a dynamic axis (the dense-size limit compares
  symbolic sizes in Python), on NL / NS's fused softmax (3-D ``scaled_dot_product_attention``), and fixes the batch
  of P3D and CGNL with dynamic H x W, which :func:`check_dynamic_axes` refuses. ``docs/deploy.md`` has the details.

The path a block takes is fixed when the graph is traced: ``path='auto'`` resolves for the export input's size, and
the ONNX graph keeps that path at every input size (both paths compute the same affinity, so the results agree;
only their cost differs). :func:`~snl_plugins.deploy.models.set_block_path` chooses it before export.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .models import InferenceModel, block_paths, set_block_path

__all__ = ['EXPORTERS', 'DEFAULT_ATOL', 'DEFAULT_RTOL', 'ToleranceError', 'ExportError', 'Check', 'ExportResult',
           'export_onnx', 'verification_shapes', 'onnxruntime_session', 'run_onnxruntime', 'check_onnx',
           'check_dynamic_axes', 'export_and_verify']

EXPORTERS = ('torchscript', 'dynamo')
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-4
INPUT_NAME, OUTPUT_NAME = 'input', 'output'


class ToleranceError(RuntimeError):
    """ONNX Runtime's output differs from PyTorch eager by more than the tolerance."""


class ExportError(RuntimeError):
    """The exporter wrote a graph that does not do what was asked (a dynamic axis fixed to the export size)."""


def _require_onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise ImportError(f'ONNX export needs onnx and onnxruntime ({err}): pip install -e ".[deploy]" (pinned '
                          'versions: pip install -c requirements/constraints.txt -e ".[deploy]")') from err
    return onnx, onnxruntime


def _check_shape(inference: InferenceModel, shape: Sequence[int], what: str) -> Tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    ndim = len(inference.input_shape)
    if len(shape) != ndim or any(s < 1 for s in shape):
        raise ValueError(f'{what} {list(shape)} does not fit {inference.name} ({inference.family}): it takes '
                         f'{inference.layout}, {ndim} positive sizes batch first, e.g. '
                         f'{" ".join(map(str, inference.input_shape))}')
    return shape


def verification_shapes(inference: InferenceModel, shape: Sequence[int], dynamic_batch: bool, dynamic_shape: bool,
                        verify_shape: Optional[Sequence[int]] = None) -> List[Tuple[int, ...]]:
    """The export input's shape and the second input's: batch + 1 where the batch axis is dynamic, H and W about
    1.25x (multiples of 8, odd sizes are the user's to give) where they are; the same shape for a static graph
    (new values only). ``verify_shape`` overrides the second."""
    shape = _check_shape(inference, shape, 'the input shape')
    if verify_shape is not None:
        second = _check_shape(inference, verify_shape, 'the verification shape')
        fixed = [i for i in range(len(shape)) if second[i] != shape[i] and not (
            (i == 0 and dynamic_batch) or (i in inference.spatial_axes and dynamic_shape))]
        if fixed:
            dynamic = [name for name, on in (('batch', dynamic_batch), ('H x W', dynamic_shape)) if on]
            raise ValueError(f'the verification shape {list(second)} differs from the export shape {list(shape)} in '
                             f'axes {fixed}, which the graph keeps fixed (dynamic: {", ".join(dynamic) or "none"})')
        return [shape, second]
    second = list(shape)
    if dynamic_batch:
        second[0] = shape[0] + 1
    if dynamic_shape:
        for axis in inference.spatial_axes:
            second[axis] = max(8 * -(-shape[axis] * 5 // 4 // 8), shape[axis] + 8)
    return [shape, tuple(second)]


def _dynamic_axes(inference: InferenceModel, dynamic_batch: bool, dynamic_shape: bool):
    """(input axes, output axes) as {axis: name}."""
    names = ('height', 'width')
    inputs: Dict[int, str] = {0: 'batch'} if dynamic_batch else {}
    outputs: Dict[int, str] = {0: 'batch'} if dynamic_batch else {}
    if dynamic_shape:
        inputs.update({a: n for a, n in zip(inference.spatial_axes, names)})
        outputs.update({a: n for a, n in zip(inference.output_spatial_axes, names)})
    return inputs, outputs


def export_onnx(inference: InferenceModel, out: str, shape: Optional[Sequence[int]] = None,
                dynamic_batch: bool = False, dynamic_shape: bool = False, exporter: str = 'torchscript',
                opset: Optional[int] = None, seed: int = 0) -> str:
    """Export ``inference.module`` to ``out`` (one file, weights inside) for an input of ``shape`` (default: the
    model's :attr:`~snl_plugins.deploy.models.InferenceModel.input_shape`); ``dynamic_batch`` / ``dynamic_shape``
    make the batch axis / H and W symbolic. Returns ``out``."""
    if exporter not in EXPORTERS:
        raise ValueError(f'unknown exporter {exporter!r}; expected one of {", ".join(EXPORTERS)}')
    if dynamic_shape and inference.dynamic_shape_error:
        raise ValueError(inference.dynamic_shape_error)
    _require_onnx()
    shape = _check_shape(inference, shape or inference.input_shape, 'the input shape')
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    in_axes, out_axes = _dynamic_axes(inference, dynamic_batch, dynamic_shape)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    module = inference.module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter's deprecation notice and the tracer's warnings about Python values taken from
        # tensors (sizes checked in Python) say nothing about this export: the ONNX Runtime check below does
        warnings.simplefilter('ignore')
        if exporter == 'torchscript':
            torch.onnx.export(module, (x,), out, dynamo=False, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: in_axes, OUTPUT_NAME: out_axes} if in_axes else None,
                              opset_version=opset or 17, do_constant_folding=True)
        else:
            dims = {a: torch.export.Dim(n, min=1 if n == 'batch' else 8) for a, n in in_axes.items()}
            program = torch.onnx.export(module, (x,), dynamo=True, input_names=[INPUT_NAME],
                                        output_names=[OUTPUT_NAME], dynamic_shapes=(dims,) if dims else None,
                                        opset_version=opset, verbose=False)
            program.save(out, external_data=False)  # one file: every model here is far below protobuf's 2 GB
    return out


def _add_metadata(path: str, meta: Dict[str, str]) -> None:
    """Key / value strings in the ONNX file's ``metadata_props`` (what the model takes, how it was exported)."""
    onnx, _ = _require_onnx()
    model = onnx.load(path)
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, path)


def check_dynamic_axes(path: str, inference: InferenceModel, dynamic_batch: bool, dynamic_shape: bool,
                       exporter: str) -> None:
    """Raise :class:`ExportError` where the graph's input has a fixed size on an axis asked to be dynamic: an
    exporter may specialise an axis silently (torch.export does where model code turns a size into a Python
    integer), and the graph would then refuse, or worse mis-handle, other sizes."""
    onnx, _ = _require_onnx()
    dims = onnx.load(path, load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    in_axes, _ = _dynamic_axes(inference, dynamic_batch, dynamic_shape)
    fixed = {a: dims[a].dim_value for a in in_axes if dims[a].HasField('dim_value')}
    if fixed:
        what = ', '.join(f'axis {a} ({in_axes[a]}) to {v}' for a, v in fixed.items())
        hint = ' (the TorchScript exporter, --exporter torchscript, keeps them)' if exporter == 'dynamo' else ''
        raise ExportError(f'the {exporter} exporter fixed {what} in {path}, which were asked to be dynamic: the model '
                          f'code makes these sizes constants under this exporter{hint}')


def check_onnx(path: str) -> None:
    """``onnx.checker.check_model`` with full checks (shape inference included) on the file at ``path``; raises
    :class:`ExportError` with the checker's reason."""
    onnx, _ = _require_onnx()
    try:
        onnx.checker.check_model(path, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise ExportError(f'onnx.checker rejects {path}: {err}') from err


def onnxruntime_session(path: str, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (one thread: comparable to a torch thread, and
    what a shared machine measures steadily)."""
    _, ort = _require_onnx()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def run_onnxruntime(session, x: torch.Tensor) -> torch.Tensor:
    """The session's output for ``x``."""
    name = session.get_inputs()[0].name
    return torch.from_numpy(session.run(None, {name: x.numpy()})[0])


@dataclass
class Check:
    """One input: its shape, the output's, and the largest difference between ONNX Runtime and eager."""
    input_shape: List[int]
    output_shape: List[int]
    max_abs_diff: float
    max_abs_eager: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance


@dataclass
class ExportResult:
    """What :func:`export_and_verify` did and found."""
    path: str
    name: str
    family: str
    exporter: str
    input_shape: List[int]
    dynamic_batch: bool
    dynamic_shape: bool
    block_path: str
    blocks: List[dict]
    checks: List[Check] = field(default_factory=list)
    export_seconds: float = 0.0
    file_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for c in self.checks), default=float('nan'))

    def to_dict(self) -> dict:
        out = asdict(self)
        out['ok'], out['max_abs_diff'] = self.ok, self.max_abs_diff
        return out

    def summary(self) -> str:
        """The report a user reads: file, input, blocks and their paths, each check."""
        axes = ', '.join(a for a, on in (('batch', self.dynamic_batch), ('H x W', self.dynamic_shape)) if on)
        lines = [f'{self.name} ({self.family}) -> {self.path} ({self.file_mb:.1f} MB, {self.exporter} exporter, '
                 f'{self.export_seconds:.1f} s); input {self.input_shape}, dynamic: {axes or "none"}']
        for b in self.blocks:
            where = f' at N x M = {b["positions"][0]} x {b["positions"][1]}' if b['positions'] else ''
            kept = ', kept at every input size' if self.dynamic_shape else ''
            lines.append(f'  block {b["block"]} ({b["type"]}): path={b["path"]!r} -> traced {b["form"]}{where}{kept}')
        for c in self.checks:
            lines.append(f'  onnxruntime vs eager, input {c.input_shape} -> output {c.output_shape}: max |diff| '
                         f'{c.max_abs_diff:.3g} (max |eager| {c.max_abs_eager:.3g}, tolerance {c.tolerance:.3g}) '
                         f'{"ok" if c.ok else "EXCEEDED"}')
        return '\n'.join(lines)

    def raise_for_tolerance(self) -> None:
        """Raise :class:`ToleranceError` naming the inputs whose difference exceeds the tolerance."""
        bad = [c for c in self.checks if not c.ok]
        if bad:
            worst = max(bad, key=lambda c: c.max_abs_diff)
            raise ToleranceError(f'ONNX Runtime differs from PyTorch eager by {worst.max_abs_diff:.3g} at input '
                                 f'{worst.input_shape}, above the tolerance {worst.tolerance:.3g} (atol + rtol x max '
                                 f'|eager|, max |eager| = {worst.max_abs_eager:.3g}); {self.path} is written but does '
                                 'not reproduce the PyTorch model to that tolerance')


def export_and_verify(inference: InferenceModel, out: str, shape: Optional[Sequence[int]] = None,
                      dynamic_batch: bool = False, dynamic_shape: bool = False, exporter: str = 'torchscript',
                      block_path: str = 'config', opset: Optional[int] = None,
                      verify_shape: Optional[Sequence[int]] = None, atol: float = DEFAULT_ATOL,
                      rtol: float = DEFAULT_RTOL, seed: int = 0) -> ExportResult:
    """Export, check the file, and compare ONNX Runtime with eager at two inputs (see the module docstring).

    Args:
        inference: from :func:`~snl_plugins.deploy.models.build_timm` / ``build_from_config`` / ``inference_model``.
        out: the ``.onnx`` file to write.
        shape: the export input, batch first (default: the model's ``input_shape``).
        dynamic_batch, dynamic_shape: symbolic batch axis / H and W.
        exporter: ``'torchscript'`` or ``'dynamo'``.
        block_path: ``'config'`` (each block's own), ``'auto'``, ``'dense'`` or ``'factorised'``, set on every block
            before export (:func:`~snl_plugins.deploy.models.set_block_path`; the module keeps it).
        opset: the ONNX opset (default: 17 for TorchScript, the dynamo exporter's own default).
        verify_shape: the second input's shape (default: :func:`verification_shapes`).
        atol, rtol: the tolerance, ``atol + rtol * max |eager|`` per input.
        seed: of the random inputs.

    Returns:
        the :class:`ExportResult`; ``result.ok`` is False (and ``raise_for_tolerance`` raises) where a difference
        exceeds the tolerance.
    """
    if atol < 0 or rtol < 0:
        raise ValueError(f'tolerances must be >= 0, got atol={atol}, rtol={rtol}')
    set_block_path(inference.module, block_path)
    shape = tuple(shape or inference.input_shape)
    shapes = verification_shapes(inference, shape, dynamic_batch, dynamic_shape, verify_shape)
    x = torch.randn(shapes[0], generator=torch.Generator().manual_seed(seed))
    blocks = block_paths(inference.module, x)
    start = time.perf_counter()
    export_onnx(inference, out, shape, dynamic_batch, dynamic_shape, exporter, opset, seed)
    seconds = time.perf_counter() - start
    _add_metadata(out, {
        'snl_plugins.family': inference.family, 'snl_plugins.model': inference.name,
        'snl_plugins.input': inference.layout, 'snl_plugins.output': inference.output,
        'snl_plugins.preprocessing': json.dumps(inference.preprocessing),
        'snl_plugins.block_paths': json.dumps({b['block']: b['form'] for b in blocks}),
        'snl_plugins.exporter': exporter})
    check_onnx(out)
    check_dynamic_axes(out, inference, dynamic_batch, dynamic_shape, exporter)
    session = onnxruntime_session(out)
    result = ExportResult(path=out, name=inference.name, family=inference.family, exporter=exporter,
                          input_shape=list(shape), dynamic_batch=dynamic_batch, dynamic_shape=dynamic_shape,
                          block_path=block_path, blocks=blocks, export_seconds=seconds,
                          file_mb=osp.getsize(out) / 2 ** 20)
    for i, s in enumerate(shapes):
        xi = x if i == 0 else torch.randn(s, generator=torch.Generator().manual_seed(seed + i))
        with torch.no_grad():
            eager = inference.module(xi)
        got = run_onnxruntime(session, xi)
        if got.shape != eager.shape:
            raise ExportError(f'ONNX Runtime gave an output of shape {list(got.shape)} for input {list(s)}, eager '
                                 f'{list(eager.shape)}: the graph did not follow the input\'s size')
        ref = float(eager.abs().max())
        result.checks.append(Check(input_shape=list(s), output_shape=list(eager.shape),
                                   max_abs_diff=float((got - eager).abs().max()), max_abs_eager=ref,
                                   tolerance=atol + rtol * ref))
    return result
