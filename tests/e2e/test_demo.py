"""The demos' harness (``tools/demo.py``): finding the project's tools and configs from an installed package, the
report (paired differences, the seed-spread verdict, tables), the command line's checks, the digits' data; and the
digits task end to end at reduced length (``--task digits``, through tools/train.py and tools/test.py)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures.tools import ROOT, check, run_tool
from snl_plugins.demos import digits, harness
from snl_plugins.demos.data import digit_split, digits_uint8


# ------------------------------------------------------------------------------------------------- the project
def _fake_project(path: Path) -> Path:
    (path / 'tools').mkdir(parents=True)
    (path / 'configs' / 'segmentation' / 'demo').mkdir(parents=True)
    for tool in ('train.py', 'test.py', 'demo.py'):
        (path / 'tools' / tool).write_text('')
    return path


def test_project_root_found_from_explicit_env_cwd_or_package(tmp_path, monkeypatch):
    monkeypatch.delenv(harness.ROOT_ENV, raising=False)
    project = _fake_project(tmp_path / 'clone')
    elsewhere = tmp_path / 'site-packages' / 'snl_plugins'
    elsewhere.mkdir(parents=True)
    (project / 'docs').mkdir()
    # an installed package: found from the clone or a folder inside it
    assert harness.find_project_root(cwd=project / 'docs', package_dir=elsewhere) == project.resolve()
    assert harness.find_project_root(root=project, cwd=tmp_path, package_dir=elsewhere) == project.resolve()
    monkeypatch.setenv(harness.ROOT_ENV, str(project))
    assert harness.find_project_root(cwd=tmp_path, package_dir=elsewhere) == project.resolve()
    monkeypatch.delenv(harness.ROOT_ENV)
    # an editable install / the source tree: beside the package
    assert harness.find_project_root(cwd=tmp_path, package_dir=project / 'snl_plugins') == project.resolve()
    with pytest.raises(FileNotFoundError, match='run from a clone of the repository, or pass --root'):
        harness.find_project_root(cwd=tmp_path, package_dir=elsewhere)
    with pytest.raises(FileNotFoundError, match='--root=.*not a clone'):
        harness.find_project_root(root=tmp_path, cwd=project)
    (project / 'tools' / 'demo.py').unlink()  # another project with tools/train.py and configs/ is not this one
    with pytest.raises(FileNotFoundError, match='found neither'):
        harness.find_project_root(cwd=project / 'docs', package_dir=elsewhere)
    monkeypatch.setenv(harness.ROOT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f'{harness.ROOT_ENV}=.*not a clone'):
        harness.find_project_root(cwd=project)


def test_project_root_from_a_package_installed_outside_the_clone(tmp_path):
    """The package copied to another folder (as ``pip install .`` puts it in site-packages) resolves the clone from
    the current directory, and says what to do elsewhere."""
    site = tmp_path / 'site'
    shutil.copytree(ROOT / 'snl_plugins', site / 'snl_plugins', ignore=shutil.ignore_patterns('__pycache__'))
    code = ('import snl_plugins.demos.harness as h; print(h.__file__); print(h.find_project_root()); '
            'print(h.tool_env().get("PYTHONPATH", ""))')
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', harness.ROOT_ENV)}
    env['PYTHONPATH'] = str(site)

    def resolve(cwd):
        return subprocess.run([sys.executable, '-c', code], cwd=cwd, env=env, capture_output=True, text=True)
    out = resolve(ROOT / 'docs')
    assert out.returncode == 0, out.stderr[-3000:]
    module, root, path = out.stdout.splitlines()
    assert Path(module).is_relative_to(site) and Path(root) == ROOT
    assert path.split(os.pathsep)[0] == str(site)  # the tools import the same package as the harness
    outside = resolve(tmp_path)
    assert outside.returncode != 0 and 'run from a clone of the repository, or pass --root' in outside.stderr


# ------------------------------------------------------------------------------------------------------ report
def test_verdict_compares_the_paired_differences_with_the_seed_spread():
    assert harness.verdict([30.0], 0.0) == 'one seed: no spread measured'
    assert harness.verdict([30.0, 28.0, 35.0], 4.0) == 'yes: +31.00 is beyond 2 x 4.00, same sign in every seed'
    assert harness.verdict([3.0, 5.0, 4.0], 4.0) == 'no: +4.00 is within 2 x 4.00'
    assert harness.verdict([10.0, -1.0, 20.0], 0.5) == 'no: signs differ across seeds'
    assert harness.verdict([-3.0, -3.5], 0.1).startswith('yes: -3.25 is beyond')


def _run(model, key, seed, box, miou):
    return dict(model=model, key=key, seed=seed, metrics=dict(box_acc=box, mIoU=miou), train_wall_s=10.0,
                train_cpu_s=9.0, curves=dict(step_time=0.1))


def test_summary_and_tables_pair_by_seed():
    runs = [_run('plain', 'plain', s, b, m) for s, b, m in ((0, 60.0, 70.0), (1, 56.0, 72.0), (2, 64.0, 71.0))]
    runs += [_run('+ SNL', 'snl', s, b, m) for s, b, m in ((2, 92.0, 80.0), (0, 91.0, 79.0), (1, 90.0, 81.0))]
    rows = harness.summarize(runs, scenes_metrics(), {'plain': 10, '+ SNL': 12})
    box = rows[1]['metrics']['box_acc']
    assert rows[1]['seeds'] == [0, 1, 2] and box['values'] == [91.0, 90.0, 92.0]
    assert box['delta'] == [31.0, 34.0, 28.0] and box['delta_mean'] == pytest.approx(31.0)
    assert box['verdict'].startswith('yes') and rows[0]['metrics']['box_acc']['verdict'] is None
    assert rows[0]['metrics']['box_acc']['std'] == pytest.approx(4.0)
    table = harness.format_tables(rows, scenes_metrics(), 'iteration')
    assert all(line.count('|') == 7 for line in table.splitlines() if line.startswith('| + SNL | 91'))
    assert '| + SNL | 91.00 ± 1.00 | 91.00, 90.00, 92.00 | +31.00, +34.00, +28.00 | +31.00 ± 3.00 | yes:' in table
    assert '| plain | 60.00 ± 4.00 | 60.00, 56.00, 64.00 | — | — | — |' in table
    assert '| + SNL | 12 | 0.100 | 10 (9) |' in table


def scenes_metrics():
    from snl_plugins.demos.scenes import ScenesTask
    return ScenesTask.metrics


def test_command_line_refuses_what_does_not_apply(tmp_path):
    with pytest.raises(SystemExit, match='--iters: not an option of --task digits'):
        harness.main(['--task', 'digits', '--iters', '10', '--out', str(tmp_path)])
    with pytest.raises(SystemExit, match='--epochs must be >= 1'):
        harness.main(['--task', 'digits', '--epochs', '0', '--out', str(tmp_path)])
    with pytest.raises(ValueError, match="--models must start with 'plain'"):
        harness._select_models(harness._tasks()['scenes'], ['snl', 'plain'])
    with pytest.raises(ValueError, match='--models cgnl: task scenes has plain, nl, snl, gsnl'):
        harness._select_models(harness._tasks()['scenes'], ['plain', 'cgnl'])
    with pytest.raises(SystemExit, match="tools/demo.py: --models must start with 'plain'"):
        harness.main(['--models', 'snl', '--out', str(tmp_path)])
    with pytest.raises(SystemExit, match='tools/demo.py: --root=.*not a clone'):
        harness.main(['--root', str(tmp_path), '--out', str(tmp_path)])
    with pytest.raises(FileNotFoundError, match='no demo of this task ran'):
        harness.main(['--report-only', '--out', str(tmp_path)])


# ------------------------------------------------------------------------------------------------------ digits
def test_write_digits_split_is_fixed_stratified_and_disjoint(tmp_path):
    info = digits.write_digits(tmp_path / 'd')
    assert (info['n_train'], info['n_test']) == (1297, 500)
    assert sorted(info['test_per_class']) == [48, 49, 50, 50, 50, 50, 50, 51, 51, 51]  # stratified
    assert not set(info['train_index']) & set(info['test_index'])
    _, test = digit_split(digits_uint8()[1])
    assert test.tolist() == info['test_index']  # fixed split
    pngs = sorted((tmp_path / 'd' / 'test').glob('*/*.png'))
    assert len(pngs) == 500 and {p.parent.name for p in pngs} == {str(c) for c in range(10)}
    from PIL import Image
    with Image.open(pngs[0]) as im:
        assert im.size == (16, 16)
    # the config's normalisation is the data's
    from mmengine.config import Config
    cfg = Config.fromfile(str(ROOT / digits.MODELS[0].config))
    assert cfg.model.data_preprocessor.mean[0] == pytest.approx(info['train_mean'], abs=0.1)
    assert cfg.model.data_preprocessor.std[0] == pytest.approx(info['train_std'], abs=0.1)


@pytest.mark.slow
def test_digits_end_to_end_reduced(tmp_path):
    out = tmp_path / 'demo'
    stdout = check(run_tool('tools/demo.py', '--task', 'digits', '--seeds', '0', '--epochs', '1', '--train-size',
                            '128', '--test-size', '50', '--out', out))
    assert '| PreResNet-20 |' in stdout and '| PreResNet-20 + SNL |' in stdout and '1 seed (0)' in stdout
    assert (out / 'learning_curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '| PreResNet-20 + SNL |' in (out / 'results.md').read_text()
    res = json.loads((out / 'results.json').read_text())
    assert res['data']['n_train'] == 128 and res['data']['n_test'] == 50 and res['seeds'] == [0]
    assert res['models'] == ['PreResNet-20', 'PreResNet-20 + SNL']
    params = [r['params'] for r in res['rows']]
    assert params[0] < params[1] < params[0] * 1.01  # one small SNL block on top of the same network
    for run in res['runs']:
        wd = Path(run['work_dir'])
        assert (wd / 'epoch_1.pth').is_file() and (wd / 'run.json').is_file()
        top1 = run['metrics']['top1']
        assert 0 <= top1 <= 100 and top1 == pytest.approx(run['curves']['val'][-1], abs=1e-3)  # the final checkpoint
        assert run['curves']['train_step'] == [1] and np.isfinite(run['curves']['train_loss'][0])
    # the report again from the work dirs
    again = check(run_tool('tools/demo.py', '--task', 'digits', '--report-only', '--out', out))
    assert 'n/a (--report-only)' in again and '| PreResNet-20 + SNL |' in again
