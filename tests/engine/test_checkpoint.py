"""SafeCheckpointHook's parts (snl_plugins.engine.checkpoint): atomic writes, stale temporaries, random states, and a
damaged checkpoint named on load. The whole, killed at random moments: tests/e2e/test_fault_injection.py."""
import random

import numpy as np
import pytest
import torch

from snl_plugins.compat import DamagedCheckpointError, load_from_local
from snl_plugins.engine import checkpoint as ck


def test_a_write_interrupted_before_its_rename_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    ck.write_atomic(str(target), b'old checkpoint')

    def killed(path, data):  # the process dies half-way through the write
        with open(path, 'wb') as f:
            f.write(data[:3])
        raise KeyboardInterrupt

    monkeypatch.setattr(ck, '_write_file', killed)
    with pytest.raises(KeyboardInterrupt):
        ck.write_atomic(str(target), b'new checkpoint')
    assert target.read_bytes() == b'old checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']  # the temporary went with the exception


def test_stale_temporaries_of_killed_writes_are_removed(tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'x')
    (tmp_path / f'.epoch_2.pth.abc{ck.TMP_SUFFIX}').write_bytes(b'partial')  # SIGKILL leaves no exception handler
    (tmp_path / '.hidden_but_ours_not').write_bytes(b'y')
    removed = ck.remove_stale_temporaries(str(tmp_path))
    assert [p.rsplit('/', 1)[1] for p in removed] == [f'.epoch_2.pth.abc{ck.TMP_SUFFIX}']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.hidden_but_ours_not', 'epoch_1.pth']


def test_random_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    states = ck.capture_rng_states()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict={}, rng_states=states), path)
    loaded = load_from_local(str(path))  # the allow-listed load every checkpoint goes through
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    ck.restore_rng_states(loaded['rng_states'])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'garbage'])
def test_a_damaged_checkpoint_is_named(tmp_path, damage):
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1000))), good)
    bad = tmp_path / 'epoch_3.pth'
    data = good.read_bytes()
    bad.write_bytes({'truncated': data[:len(data) // 2], 'empty': b'', 'garbage': b'not a checkpoint' * 10}[damage])
    with pytest.raises(DamagedCheckpointError, match=rf'checkpoint {bad} is damaged or incomplete \(\d+ bytes; torch'):
        load_from_local(str(bad))


class _NoisyData(torch.utils.data.Dataset):
    """Each sample's augmentation draws from the global random states, as image pipelines do."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((4,), float(i)) + torch.rand(4) + float(np.random.rand() + random.random()),
                    target=torch.tensor(float(i % 2)))


def _iteration_run(work, max_iters: int, resume: bool = False):
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc, self.drop = torch.nn.Linear(4, 1), torch.nn.Dropout(0.5)  # dropout: the step draws too

        def forward(self, inputs, target, mode='loss'):
            out = self.fc(self.drop(torch.stack(inputs))).squeeze(1)
            return dict(loss=((out - torch.stack(target)) ** 2).mean())

    torch.manual_seed(0)  # the same initial weights in every run (the runner seeds after the model is built)
    runner = Runner(
        model=Tiny(), work_dir=str(work), experiment_name=f'iters_{max_iters}',
        train_dataloader=dict(dataset=_NoisyData(), sampler=dict(type='InfiniteSampler', shuffle=True),
                              batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=3, by_epoch=False)),
        randomness=dict(seed=0), resume=resume, default_scope='mmengine')
    runner.train()
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_an_iteration_based_resume_draws_as_the_uninterrupted_run(tmp_path):
    """mmengine fetches an iteration's batch before ``before_train_iter``, after replaying the data to the resumed
    iteration: the states go back in between, so the first resumed batch's augmentation draws as it did."""
    straight = _iteration_run(tmp_path / 'straight', 6)
    _iteration_run(tmp_path / 'resumed', 3)  # stopped at iteration 3 (its checkpoint), then resumed to 6
    resumed = _iteration_run(tmp_path / 'resumed', 6, resume=True)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_whole_checkpoint_torch_cannot_map_keeps_torchs_error(tmp_path, monkeypatch):
    """A complete file that fails for another reason (CUDA storages on a machine without CUDA) is not called
    damaged: torch's own error, which says what to do, reaches the user."""
    good = tmp_path / 'epoch_3.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(10))), good)
    cuda_error = ('Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. '
                  "If you are running on a CPU-only machine, please use torch.load with map_location='cpu'")

    def load(*args, **kwargs):
        raise RuntimeError(cuda_error)

    monkeypatch.setattr(torch, 'load', load)
    with pytest.raises(RuntimeError, match='Attempting to deserialize object on a CUDA device') as info:
        load_from_local(str(good))
    assert not isinstance(info.value, DamagedCheckpointError)
