"""End to end: tools/train.py and tools/test.py as a user runs them, on tiny data sets in the real on-disk layouts,
through the real classification configs (a tiny config inherits one and shrinks data, batch and epochs)."""
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from fixtures.datasets import write_cifar10, write_cub200
from fixtures.configs import CLS_CFG_DIR as CFG_DIR
from fixtures.configs import tiny_cls_config
from fixtures.tools import check, free_port, run_tool, scalars

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    """A CIFAR-10 layout (40 train, 16 test images), a tiny PreResNet-20 + SNL config, and a 2-epoch training run."""
    tmp = tmp_path_factory.mktemp('cifar')
    data = write_cifar10(tmp / 'data', n_train=40, n_test=16)
    cfg = tiny_cls_config(tmp / 'tiny_cifar10.py', 'preresnet/preresnet20-snl_1xb128-300e_cifar10.py', data)
    work = tmp / 'work'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    return dict(tmp=tmp, data=data, cfg=cfg, work=work, out=out)


def test_train_writes_checkpoints_logs_and_metrics(cifar):
    work = cifar['work']
    for name in ('epoch_1.pth', 'epoch_2.pth', 'last_checkpoint', 'tiny_cifar10.py'):
        assert (work / name).is_file(), name
    assert list(work.glob('best_accuracy_top1_epoch_*.pth'))
    logs = list(work.glob('*/*.log'))
    assert logs and 'Epoch(train) [2][5/5]' in logs[0].read_text()  # 40 images / batch 8, progress in the log
    vals = [s for s in scalars(work) if 'accuracy/top1' in s]
    assert len(vals) == 2 and all(0 <= s['accuracy/top1'] <= s['accuracy/top5'] <= 100 for s in vals)
    losses = [s['loss'] for s in scalars(work) if 'loss' in s]
    assert len(losses) == 10 and all(l == l for l in losses)  # finite, one per iteration


def test_test_tool_evaluates_a_checkpoint(cifar):
    work = cifar['work']
    out = check(run_tool('tools/test.py', cifar['cfg'], work / 'epoch_2.pth', '--work-dir', cifar['tmp'] / 'test_wd',
                         '--out', cifar['tmp'] / 'preds.pkl'))
    m = re.search(r'Epoch\(test\).*accuracy/top1: ([\d.]+)\s+accuracy/top5: ([\d.]+)', out)
    assert m, out[-3000:]
    last_val = [s for s in scalars(work) if 'accuracy/top1' in s][-1]
    assert float(m.group(1)) == pytest.approx(last_val['accuracy/top1'], abs=1e-3)
    assert float(m.group(2)) == pytest.approx(last_val['accuracy/top5'], abs=1e-3)
    assert (cifar['tmp'] / 'preds.pkl').is_file()


def test_resume_continues_from_the_last_checkpoint(cifar):
    work = cifar['tmp'] / 'resume'
    shutil.copytree(cifar['work'], work)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    out = check(run_tool('tools/train.py', cifar['cfg'], '--work-dir', work, '--resume',
                         '--cfg-options', 'train_cfg.max_epochs=3'))
    assert 'resumed epoch: 2' in out
    assert 'Epoch(train) [3][5/5]' in out and 'Epoch(train) [1]' not in out
    assert (work / 'epoch_3.pth').is_file()


def test_missing_data_file_fails_naming_it(cifar):
    data = cifar['tmp'] / 'broken'
    shutil.copytree(cifar['data'], data)
    missing = data / 'cifar-10-batches-py' / 'data_batch_4'
    missing.unlink()
    cfg = tiny_cls_config(cifar['tmp'] / 'broken.py', 'preresnet/preresnet20_1xb128-300e_cifar10.py', str(data))
    proc = run_tool('tools/train.py', cfg, '--work-dir', cifar['tmp'] / 'broken_wd')
    assert proc.returncode != 0
    assert 'FileNotFoundError' in proc.stderr and str(missing) in proc.stderr


def test_bad_config_fails_clearly(tmp_path):
    proc = run_tool('tools/train.py', tmp_path / 'no_such_config.py')
    assert proc.returncode != 0 and f'Config file not found: {tmp_path / "no_such_config.py"}' in proc.stderr
    bad = tmp_path / 'bad.py'
    bad.write_text(f"_base_ = ['{CFG_DIR / 'preresnet/preresnet20_1xb128-300e_cifar10.py'}']\n"
                   "model = dict(_delete_=True, type='NoSuchClassifier')\n")
    proc = run_tool('tools/train.py', bad, '--work-dir', tmp_path / 'wd')
    assert proc.returncode != 0 and 'NoSuchClassifier' in proc.stderr and 'registry' in proc.stderr


def test_cub_fine_tunes_from_a_local_pretrained_file(tmp_path):
    import timm
    import torch
    data = write_cub200(tmp_path / 'data', num_classes=3, n_train=4, n_test=2, size=(40, 48))
    weights = tmp_path / 'resnet18_in1k.pth'
    torch.save(timm.create_model('resnet18', num_classes=1000).state_dict(), weights)
    extra = f'''
model = dict(model=dict(name='resnet18_snl', num_classes=3, pretrained_cfg_overlay=dict(file='{weights}')))
'''
    cfg = tiny_cls_config(tmp_path / 'tiny_cub.py', 'resnet/resnet50-snl_1xb64-200e_cub200.py', data, epochs=1,
                          extra=extra,
                          train_pipeline=[dict(type='Resize', size=36), dict(type='RandomCrop', size=32),
                                          dict(type='RandomHorizontalFlip')],
                          test_pipeline=[dict(type='Resize', size=36), dict(type='CenterCrop', size=32)])
    work = tmp_path / 'work'
    out = check(run_tool('tools/train.py', cfg, '--work-dir', work))
    assert 'Epoch(train) [1][2/2]' in out  # 12 train images / batch 8
    assert (work / 'epoch_1.pth').is_file()
    vals = [s for s in scalars(work) if 'accuracy/top1' in s]
    assert len(vals) == 1 and vals[0]['accuracy/top5'] == 100.0  # 3 classes: top-5 is everything


def test_distributed_two_processes_gloo(cifar):
    work = cifar['tmp'] / 'dist'
    launcher = ['-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr=127.0.0.1',
                f'--master_port={free_port()}']
    out = check(run_tool('tools/train.py', cifar['cfg'], '--work-dir', work, '--launcher', 'pytorch',
                         '--cfg-options', 'train_cfg.max_epochs=1', 'env_cfg.dist_cfg.backend=gloo',
                         launcher=launcher, timeout=300))
    assert 'Distributed training: True' in out
    assert 'Epoch(train) [1][3/3]' in out  # 40 images over 2 processes, batch 8 each: 3 iterations
    assert (work / 'epoch_1.pth').is_file()
    assert [s for s in scalars(work) if 'accuracy/top1' in s]
