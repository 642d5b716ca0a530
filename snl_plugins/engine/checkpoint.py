"""Checkpoints that survive a kill, and a resume that continues bit for bit (``docs/reliability.md``).

mmengine 0.10.7's ``CheckpointHook`` writes a checkpoint in place, so a kill during the write leaves a truncated file
under the final name; with ``max_keep_ckpts`` it deletes the oldest checkpoint before the new one is written, and
the best-checkpoint logic deletes the old best first too: a kill then can leave nothing to resume from. Its
checkpoints carry no random-number state, so a resumed run with random augmentation draws differently from an
uninterrupted one. :class:`SafeCheckpointHook`, which our configs choose as ``default_hooks.checkpoint`` (so it
works under OpenMMLab's own ``tools/train.py`` too), fixes both without patching mmengine:

- every checkpoint (regular and best) and ``last_checkpoint`` is written to a temporary file in the same folder,
  flushed to disk and renamed into place (:class:`AtomicLocalBackend`, the hook's file backend for local folders);
  an old checkpoint is removed only after the new one is complete;
- the torch (CPU and CUDA), numpy and Python random states of the end of each training epoch (iteration, for
  iteration-based loops) go into the checkpoint (``rng_states``) and are restored where training continues; the
  random numbers validation draws are given back after it, so an uninterrupted run and a resumed one draw the same.

Resume is then exact where the data loader's randomness lives in the main process or is re-seeded identically:
``num_workers=0``, or workers that are not persistent across epochs, or iteration-based loops (mmengine replays the
data to the resumed iteration; the states go back between that replay and the next batch). Persistent workers keep
their own random state from epoch to epoch, which no checkpoint can reach.
"""
import os
import os.path as osp
import random
import tempfile
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

__all__ = ['ATOMIC_BACKEND', 'AtomicLocalBackend', 'SafeCheckpointHook', 'capture_rng_states',
           'remove_stale_temporaries', 'restore_rng_states', 'write_atomic']

ATOMIC_BACKEND = 'snl_atomic_local'


def _write_file(path: str, data: bytes) -> None:
    """Write and flush ``data`` to disk (the step a kill interrupts; tests slow it down to hit it)."""
    with open(path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


TMP_SUFFIX = '.snl-tmp'


def write_atomic(path: str, data: bytes) -> None:
    """``path`` holds either its old content or all of ``data``, never a part: a temporary file in the same folder
    (same file system; ``.<name>.<random>.snl-tmp``), renamed into place once complete."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix=TMP_SUFFIX, dir=folder)
    os.close(fd)
    try:
        _write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def remove_stale_temporaries(folder: str) -> List[str]:
    """Remove what writes killed before their rename left in ``folder``; returns the removed paths."""
    stale = [osp.join(folder, n) for n in os.listdir(folder) if n.startswith('.') and n.endswith(TMP_SUFFIX)]
    for path in stale:
        os.remove(path)
    return stale


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic writes (:func:`write_atomic`)."""

    def put(self, obj: bytes, filepath) -> None:
        write_atomic(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_atomic(str(filepath), obj.encode(encoding))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def capture_rng_states() -> dict:
    """The random states a training step draws from: Python's, numpy's and torch's (CPU, and each CUDA device's)."""
    states = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class _RestoreBeforeNextBatch:
    """An iteration-based loop's data iterator on resume: mmengine replays the batches already trained on, then
    fetches the next one before any per-iteration hook runs. The random states go back after the replay and before
    that fetch, so its augmentation draws as in the uninterrupted run; the loop then gets its own iterator back."""

    def __init__(self, loop, states: dict):
        self.loop, self.states = loop, states
        self.inner, self.replay = loop.dataloader_iterator, loop.iter

    def __iter__(self):
        return self

    def __next__(self):
        if self.replay:
            self.replay -= 1
        else:
            restore_rng_states(self.states)
            self.loop.dataloader_iterator = self.inner
        return next(self.inner)


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` are only noted, to run once the new checkpoint is written."""

    def __init__(self, backend):
        self.backend, self.pending = backend, []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def remove(self, path) -> None:
        self.pending.append(path)

    def rmtree(self, path) -> None:
        self.pending.append(path)


@HOOKS.register_module(force=True)
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) with atomic writes, removals after the new checkpoint is
    complete, and the random states that make resume exact (see the module docstring).

    Use it as ``default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', ...))``; every config here does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rng_states: Optional[dict] = None  # of the last training epoch / iteration end
        self._val_rng_states: Optional[dict] = None
        self._resumed = False  # loaded states wait for where training continues
        self._by_epoch_loop = True

    def before_train(self, runner) -> None:
        if self.file_client_args is None and self.backend_args is None and self.out_dir in (None, runner.work_dir):
            self.backend_args = dict(backend=ATOMIC_BACKEND)  # a local work_dir: write atomically
        super().before_train(runner)
        if is_main_process() and osp.isdir(self.out_dir):
            for path in remove_stale_temporaries(self.out_dir):
                runner.logger.info(f'removed {path}, left by a write that was killed')
        from mmengine.runner import EpochBasedTrainLoop
        self._by_epoch_loop = isinstance(runner.train_loop, EpochBasedTrainLoop)

    # ---- random states ------------------------------------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._rng_states is not None:
            checkpoint['rng_states'] = self._rng_states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._rng_states = checkpoint.get('rng_states')
        self._resumed = self._rng_states is not None

    def before_train_epoch(self, runner) -> None:
        if self._resumed and self._by_epoch_loop:
            restore_rng_states(self._rng_states)  # before the epoch's data loader iterator draws anything
        elif self._resumed:  # called before mmengine replays the data to the resumed iteration
            runner.train_loop.dataloader_iterator = _RestoreBeforeNextBatch(runner.train_loop, self._rng_states)
        self._resumed = False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._by_epoch_loop:
            self._rng_states = capture_rng_states()
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def after_train_epoch(self, runner) -> None:
        if self._by_epoch_loop:
            self._rng_states = capture_rng_states()
        super().after_train_epoch(runner)

    def before_val_epoch(self, runner) -> None:
        self._val_rng_states = capture_rng_states()  # validation may draw (its loader's seed): given back after

    def after_val_epoch(self, runner, metrics=None) -> None:
        super().after_val_epoch(runner, metrics)
        if self._val_rng_states is not None:
            restore_rng_states(self._val_rng_states)
            self._val_rng_states = None

    # ---- writes and removals ------------------------------------------------------------------------------------
    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed checkpoints are folders
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """mmengine's, reordered: the new checkpoint and ``last_checkpoint`` are written (atomically) before the
        checkpoints beyond ``max_keep_ckpts`` are removed."""
        stale: List[int] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
                               backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        write_atomic(osp.join(runner.work_dir, 'last_checkpoint'), str(self.last_ckpt).encode())
        for old in stale:
            self._remove(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's, with the previous best removed only after the new best is written."""
        backend = self.file_backend
        self.file_backend = deferred = _DeferredRemoval(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        current = {getattr(self, 'best_ckpt_path', None), *getattr(self, 'best_ckpt_path_dict', {}).values(),
                   self.last_ckpt}
        for path in deferred.pending:
            if path not in current:
                self._remove(path)
