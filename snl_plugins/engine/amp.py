"""Mixed-precision training on CPU for mmengine.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts a CUDA / NPU / MLU / MUSA device, and its ``autocast`` helper allows only
bfloat16 on CPU. :class:`CPUAmpOptimWrapper` is the same wrapper for CPU: the forward pass under
``torch.autocast('cpu', dtype)`` and, for float16, a ``torch.amp.GradScaler('cpu')`` used exactly as mmengine uses its
scaler (scaled loss, unscale before clipping, step skipped when a gradient is inf / NaN, scale updated; the scaler's
state in the optimizer wrapper's state dict). It also counts the skipped steps and puts ``loss_scale`` and
``skipped_steps`` into the message hub, so the training log and ``scalars.json`` show them.

In a config: ``optim_wrapper = dict(type='CPUAmpOptimWrapper', dtype='float16', optimizer=...)`` (with
``custom_imports=dict(imports=['snl_plugins'])`` under OpenMMLab's own tools); ``tools/train.py --amp`` selects it
when no GPU is available.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

__all__ = ['CPUAmpOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Automatic mixed precision on CPU, with the interface of mmengine's ``AmpOptimWrapper``.

    Args:
        dtype: ``'bfloat16'`` (default) or ``'float16'`` (or the ``torch.dtype``): what ``torch.autocast('cpu')``
            casts to inside :meth:`optim_context`.
        loss_scale: the gradient scaler, as in mmengine's ``AmpOptimWrapper``: ``'dynamic'`` (``GradScaler('cpu')``
            with its defaults), a float (a static scale), or a dict of ``GradScaler`` arguments; ``None`` (default)
            means ``'dynamic'`` for float16 and no scaler for bfloat16 (whose range is float32's).
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``accumulative_counts``, ``clip_grad``).

    Attributes:
        loss_scaler: the ``torch.amp.GradScaler``, or ``None`` (bfloat16 without ``loss_scale``).
        skipped_steps: optimizer steps skipped so far because a gradient was inf / NaN (kept in the state dict, so
            it counts on after a resume). Each step logs ``train/skipped_steps`` (this count) and, with a scaler,
            ``train/loss_scale`` (the scale after the step's update) in the message hub.
    """

    valid_dtypes = ('float16', 'bfloat16')

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 loss_scale: Union[None, str, float, dict] = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).replace('torch.', '')
        if dtype not in self.valid_dtypes:
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be one of {self.valid_dtypes}, got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)
        self._scale_update_param = None
        if loss_scale is None:
            loss_scale = 'dynamic' if self.cast_dtype == torch.float16 else None
        if loss_scale is None:
            self.loss_scaler = None
        elif loss_scale == 'dynamic':
            self.loss_scaler = torch.amp.GradScaler('cpu')
        elif isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
            self._scale_update_param = float(loss_scale)  # static: update() keeps this scale
            self.loss_scaler = torch.amp.GradScaler('cpu', init_scale=float(loss_scale))
        elif isinstance(loss_scale, dict):
            self.loss_scaler = torch.amp.GradScaler('cpu', **loss_scale)
        else:
            raise TypeError(f'loss_scale must be None, "dynamic", a float or a dict, got {loss_scale!r}')
        self.skipped_steps = 0

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            super().step(**kwargs)  # clips if asked; bfloat16 gradients are never skipped
            self.message_hub.update_scalar('train/skipped_steps', self.skipped_steps)
            return
        scaler = self.loss_scaler
        scale_before = scaler.get_scale()
        if self.clip_grad_kwargs:
            scaler.unscale_(self.optimizer)
            self._clip_grad()
        scaler.step(self.optimizer, **kwargs)
        skipped = self._found_inf()
        scaler.update(self._scale_update_param)
        if skipped is None:  # the scaler's bookkeeping is private: fall back on the (dynamic) scale backing off
            skipped = scaler.get_scale() < scale_before
        self.skipped_steps += int(skipped)
        self.message_hub.update_scalar('train/loss_scale', scaler.get_scale())
        self.message_hub.update_scalar('train/skipped_steps', self.skipped_steps)

    def _found_inf(self) -> Optional[bool]:
        """Whether the scaler's last ``step`` found inf / NaN gradients (read before ``update`` resets it)."""
        try:
            found = self.loss_scaler._found_inf_per_device(self.optimizer)
        except Exception:  # noqa: BLE001  (private API of torch's GradScaler)
            return None
        return bool(sum(v.item() for v in found.values()))

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        if self.loss_scaler is not None:
            state_dict['loss_scaler'] = self.loss_scaler.state_dict()
        state_dict['skipped_steps'] = self.skipped_steps
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        self.skipped_steps = int(state_dict.pop('skipped_steps', self.skipped_steps))
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield
