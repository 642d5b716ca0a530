"""mmengine checkpoints load under torch >= 2.6 after `import snl_plugins`, and untrusted pickles are refused."""
import pytest

from _compat_subproc import DEFECTIVE_STACK, TORCH_WEIGHTS_ONLY_DEFAULT, run_python

pytestmark = pytest.mark.skipif(not (DEFECTIVE_STACK and TORCH_WEIGHTS_ONLY_DEFAULT),
                                reason='about mmengine 0.10.7 (load_from_local without weights_only) on torch >= 2.6')

SCRIPT = '''
import json, os, os.path as osp, pickle, sys, tempfile
import torch
from torch import nn
import snl_plugins
from snl_plugins import compat
out = dict(runner_imported_early='mmengine.runner' in sys.modules)
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
out['loader_patched'] = CheckpointLoader._schemes[''] is compat.load_from_local  # via the post-import hook


class Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        pred = self.lin(inputs).squeeze(-1)
        return dict(loss=((pred - labels) ** 2).mean()) if mode == 'loss' else pred


def runner(work_dir, iters, **kw):
    data = [dict(inputs=torch.randn(2), labels=torch.tensor(float(i % 2))) for i in range(4)]
    return Runner(model=Toy(), work_dir=work_dir,
                  train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
                                        batch_size=2, collate_fn=dict(type='default_collate')),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                  train_cfg=dict(by_epoch=False, max_iters=iters),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                                     logger=dict(type='LoggerHook', interval=1)), **kw)


class Payload:  # not allow-listed; unpickling it runs code (writes a marker file)
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def outcome(fn):
    try:
        fn()
        return 'ok'
    except compat.UntrustedCheckpointError as e:
        return 'refused: ' + str(e)


tmp = tempfile.mkdtemp()
wd = osp.join(tmp, 'run')
runner(wd, 2).train()
ckpt = osp.join(wd, 'iter_2.pth')
try:  # the defect: a plain weights-only load of mmengine's own checkpoint fails
    torch.load(ckpt, weights_only=True)
    out['plain_torch_load'] = 'ok'
except pickle.UnpicklingError:
    out['plain_torch_load'] = 'fails'

r = runner(wd, 4, resume=True)  # auto-resume from work_dir/last_checkpoint
r.train()
out['resumed_iter'] = r.iter
r = runner(osp.join(tmp, 'other'), 2, load_from=ckpt)  # load_from from a different work_dir: safe load path
r.load_or_resume()
out['load_from'] = r._has_loaded
out['same_weights'] = all(torch.equal(a, b) for a, b in zip(
    r.model.state_dict().values(), torch.load(ckpt, weights_only=False)['state_dict'].values()))

# an untrusted checkpoint holding an arbitrary object
downloads = osp.join(tmp, 'downloads')
os.makedirs(downloads)
evil = osp.join(downloads, 'evil.pth')
marker = osp.join(tmp, 'code_ran')
torch.save(dict(state_dict=Toy().state_dict(), meta=dict(x=Payload(marker))), evil)
out['untrusted_load_from'] = outcome(lambda: runner(osp.join(tmp, 'run2'), 2, load_from=evil).load_or_resume())
out['untrusted_direct'] = outcome(lambda: CheckpointLoader.load_checkpoint(evil))
out['code_ran_when_refused'] = osp.exists(marker)
with compat.trusted_checkpoints(downloads):
    out['trusted_ctx'] = outcome(lambda: CheckpointLoader.load_checkpoint(evil))
os.remove(marker)
with compat.trusted_checkpoints(evil):  # the file itself
    out['trusted_ctx_file'] = outcome(lambda: CheckpointLoader.load_checkpoint(evil))
os.remove(marker)
os.environ[compat.TRUST_ENV] = downloads
out['env_dir'] = outcome(lambda: CheckpointLoader.load_checkpoint(evil))
os.remove(marker)
os.environ[compat.TRUST_ENV] = os.pathsep.join([osp.join(tmp, 'elsewhere'), evil])
out['env_file'] = outcome(lambda: CheckpointLoader.load_checkpoint(evil))
os.remove(marker)
os.environ[compat.TRUST_ENV] = '1'  # names nothing: trusts nothing
out['env_all'] = outcome(lambda: CheckpointLoader.load_checkpoint(evil))
del os.environ[compat.TRUST_ENV]
# nothing is trusted by where it lies: not inside the loading Runner's own work_dir, not through a symlink there
own = osp.join(tmp, 'run3')
os.makedirs(own)
torch.save(dict(state_dict=Toy().state_dict(), meta=dict(x=Payload(marker))), osp.join(own, 'mine.pth'))
out['own_work_dir'] = outcome(lambda: runner(own, 2, load_from=osp.join(own, 'mine.pth')).load_or_resume())
os.symlink(evil, osp.join(own, 'link.pth'))
out['symlink_in_work_dir'] = outcome(lambda: runner(own, 2, load_from=osp.join(own, 'link.pth')).load_or_resume())
out['code_ran_after_opt_ins'] = osp.exists(marker)
print('RESULT=' + json.dumps(out))
'''


def test_runner_checkpoints_and_trust_policy():
    res = run_python(SCRIPT, env={'SNL_TRUST_CHECKPOINTS': ''})
    assert not res['runner_imported_early'] and res['loader_patched']
    assert res['plain_torch_load'] == 'fails'  # else the stack no longer has the defect
    assert res['resumed_iter'] == 4
    assert res['load_from'] and res['same_weights']
    for key in ('untrusted_load_from', 'untrusted_direct', 'env_all', 'own_work_dir', 'symlink_in_work_dir'):
        assert res[key].startswith('refused: '), key
        assert 'io.open' in res[key] and '--trust-checkpoint' in res[key] and 'SNL_TRUST_CHECKPOINTS=' in res[key]
    assert 'SNL_TRUST_CHECKPOINTS=1 names no file or folder, so it trusts nothing' in res['env_all']
    assert not res['code_ran_when_refused'] and not res['code_ran_after_opt_ins']
    assert res['trusted_ctx'] == res['trusted_ctx_file'] == res['env_dir'] == res['env_file'] == 'ok'
