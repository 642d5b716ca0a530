"""The GPU check (tools/analysis/gpu_check.sh, snl_plugins.analysis.gpu_check): its CPU fallback end to end (every
section recorded, sane values), the goal arithmetic and report on synthetic GPU figures, the report written when
the global time limit ends a run, and the GPU-size training configs (built and one batch loaded, on the CPU)."""
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from snl_plugins.analysis import gpu_check as gc  # noqa: E402


def _env(**extra):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')])
    env.update(extra)
    return env


def test_plan_sizes_and_flops_are_the_issues():
    plan = gc.plan_for('cuda', quick=False)
    cases = {c['name']: c for c in plan['blocks']['cases']}
    assert cases['128x128'] == dict(name='128x128', spatial=(128, 128), batch=8, c=512, cs=256, goal=True)
    assert cases['64x64']['batch'] == 8 and cases['64x64']['c'] == 512
    assert cases['16x28x28']['spatial'] == (16, 28, 28)
    assert plan['blocks']['dtypes'] == ('float16', 'float32') and plan['half'] == 'float16'
    assert plan['matmul']['n'] == 8192 and set(plan['matmul']['dtypes']) == {'float16', 'bfloat16', 'tf32', 'float32'}
    assert plan['precision']['args'][:2] == ['--device', 'cuda']
    assert set(gc.PRECISION_MODES) <= set(plan['precision']['args'])
    assert gc.plan_for('cpu', quick=True)['precision']['args'] == ['--device', 'cpu', '--quick']
    b, n, c, cs = 8, 128 * 128, 512, 256
    expect = 3 * 2 * b * n * c * cs + 2 * 2 * b * n * cs * (2 * cs) + 2 * 2 * b * n * cs * c
    assert gc.snl_factorised_flops(n, b, c, cs) == expect


def _rows(snl_ms, mmcv_ms):
    common = dict(case='128x128', spatial='128x128', n=128 * 128, batch=8, c=512, cs=256, dtype='float16',
                  mode='fwd+bwd', goal_case=True, status='ok', finite=True, peak_mib=100.0, rise_mib=50.0, iters=5,
                  time_min_ms=1.0)
    return [dict(common, variant='SNL factorised', time_ms=snl_ms), dict(common, variant='mmcv NonLocal',
                                                                         time_ms=mmcv_ms),
            dict(common, variant='timm NonLocalAttn', status='oom', error='OutOfMemoryError: ...')]


@pytest.mark.parametrize('snl_ms, mmcv_ms, met', [(10.0, 60.0, True), (10.0, 40.0, False), (60.0, 400.0, False)])
def test_goals_on_synthetic_gpu_figures(snl_ms, mmcv_ms, met, tmp_path):
    plan = gc.plan_for('cuda', quick=False)
    flops = 3 * gc.snl_factorised_flops(128 * 128, 8, 512, 256)
    rate = flops / (10.0 / 1e3) / 1e12 / 0.6  # an SNL step of 10 ms reaches 60% of the matmul rate
    results = dict(matmul=dict(n=8192, tflops={'float16': rate}, timing={'float16': dict(best_tflops=rate)}),
                   blocks=dict(rows=_rows(snl_ms, mmcv_ms)))
    gc._annotate(results['blocks']['rows'], dict(results=results))
    g = gc.goals(results, plan, 'cuda')
    fb = g['fwd+bwd']
    assert g['evaluated'] and fb['speedup_vs_mmcv'] == pytest.approx(mmcv_ms / snl_ms)
    assert fb['share_of_fp16_matmul'] == pytest.approx(0.6 * 10.0 / snl_ms)
    assert fb['speedup_met'] == (mmcv_ms / snl_ms >= 5) and fb['share_met'] == (snl_ms <= 12)
    assert g['met'] is met
    report = dict(gpu_found=True, device='cuda', started='now', total_s=1.0, time_limit_s=460.0,
                  sections={k: dict(status='ok', seconds=0.1) for k in ('matmul', 'blocks')}, results=results,
                  goals=g)
    md = gc.to_markdown(report)
    assert 'No GPU found' not in md and '## Goals\n' in md and '| oom |' in md
    speedup_line = next(ln for ln in md.splitlines() if ln.startswith('| speed-up vs mmcv'))
    assert f"{mmcv_ms / snl_ms:.2f}x" in speedup_line
    assert speedup_line.endswith('| **yes** |' if mmcv_ms / snl_ms >= 5 else '| **no** |')


def test_probe_reader(tmp_path):
    probe = tmp_path / 'p.jsonl'
    lines = [dict(event='start', wrapper='AmpOptimWrapper', cast_dtype='torch.float16')]
    lines += [dict(event='iter', iter=i, loss=loss, finite=math.isfinite(loss), loss_scale=s, skipped_steps=k,
                   block_dtypes={'b': ['torch.float16', 'torch.float16', 'SNL']})
              for i, (loss, s, k) in enumerate([(2.0, 65536.0, 0), (float('inf'), 32768.0, 1), (1.5, 32768.0, 1)])]
    probe.write_text('\n'.join(json.dumps(x) for x in lines))
    r = gc._read_probe(probe)
    assert r['iterations'] == 3 and r['finite'] is False and r['skipped_steps'] == 1
    assert r['loss_scale'] == [65536.0, 32768.0, 32768.0] and r['wrapper'] == 'AmpOptimWrapper'
    assert gc._read_probe(tmp_path / 'missing.jsonl') == dict(iterations=0)


def test_global_time_limit_leaves_a_report(tmp_path):
    """SIGTERM (what the shell script's ``timeout`` sends) during a section: that section is recorded as
    'timeout', the report is written, the exit status is 124."""
    proc = subprocess.Popen([sys.executable, 'tools/analysis/gpu_check.py', '--out', str(tmp_path),
                             '--sections', 'device', 'blocks'], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if line.startswith('  blocks:'):  # the first case is done: the sweep is under way
                break
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    finally:
        proc.kill()
    report = json.loads((tmp_path / 'gpu_check.json').read_text())
    assert rc == 124
    assert report['sections']['device']['status'] == 'ok'
    assert report['sections']['blocks']['status'] == 'timeout'
    assert 'timeout' in (tmp_path / 'gpu_check.md').read_text()


@pytest.mark.slow
def test_cpu_fallback_end_to_end(tmp_path):
    """The shell script without a GPU: every section runs at toy sizes and is in the JSON and the markdown."""
    out, export = tmp_path / 'gc', tmp_path / 'export'
    t0 = time.perf_counter()
    proc = subprocess.run(['bash', 'tools/analysis/gpu_check.sh', '--python', sys.executable, '--out', str(out),
                           '--export', str(export), '--timeout', '400', '--', '--precision-timeout', '120'],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    text = proc.stdout + proc.stderr
    report = json.loads((out / 'gpu_check.json').read_text())
    sections = report['sections']
    # the precision tool is another script: whatever it did is recorded, and only it may fail here
    assert proc.returncode == (0 if sections['precision']['status'] in ('ok', 'missing') else 1), text[-4000:]
    assert 'no GPU found' in text and f'python: {sys.executable}' in text
    assert set(sections) == set(gc.SECTIONS)
    for name in ('device', 'matmul', 'blocks', 'train'):
        assert sections[name]['status'] == 'ok', (name, sections[name])
        assert 0 <= sections[name]['seconds'] < 300
    res = report['results']
    assert report['gpu_found'] is False and report['device'] == 'cpu' and report['quick'] is True
    assert res['device']['cuda_available'] is False and res['device']['torch']
    assert all(0 < v < 1e4 for v in res['matmul']['tflops'].values())

    pr = sections['precision']
    assert pr['status'] in ('ok', 'missing', 'failed', 'timeout')
    prec = res['precision']
    assert '--device cpu --quick' in prec['command']
    if pr['status'] == 'missing':
        assert not (ROOT / 'tools/analysis/precision_matrix.py').exists()
    else:
        assert 'returncode' in prec or pr['status'] == 'timeout'

    rows = res['blocks']['rows']
    plan = report['plan']['blocks']
    expected = {(c['name'], v, d, m) for c in plan['cases'] for v in gc.VARIANTS for d in plan['dtypes']
                for m in ('fwd+bwd', 'forward') if not (v == 'timm NonLocalAttn' and len(c['spatial']) != 2)}
    assert {(r['case'], r['variant'], r['dtype'], r['mode']) for r in rows} == expected
    for r in rows:
        assert r['status'] == 'ok', r
        assert math.isfinite(r['time_ms']) and 0 < r['time_min_ms'] <= r['time_ms'] < 1e4, r
        assert r['finite'] is True and r['peak_mib'] is None  # no CUDA memory on the CPU
        if r['variant'] == 'SNL factorised':
            assert r['tflops'] > 0 and 0 < r['share_of_matmul'] and r['speedup_vs_mmcv'] > 0
    goals = report['goals']
    assert goals['evaluated'] is False and goals['met'] is None and goals['fwd+bwd']['speedup_vs_mmcv'] > 0

    runs = res['train']['runs']
    assert set(runs) == {'i3d', 'deeplabv3'}
    for r in runs.values():
        assert r['status'] == 'ok' and r['returncode'] == 0 and r['iterations'] == r['max_iters'] == 2, r
        assert r['finite'] and all(math.isfinite(x) and x > 0 for x in r['losses'])
        assert '--amp' in r['command'] and (out / r['log']).is_file()
        assert r['block_dtypes']  # the SNL block ran inside the training step

    md = (out / 'gpu_check.md').read_text()
    assert md.startswith('# GPU check') and 'No GPU found' in md
    for head in ('## Goals', '## Matrix product', '## Precision matrix', '## Blocks', '## Training'):
        assert head in md
    assert md.count('| SNL factorised |') == sum(r['variant'] == 'SNL factorised' for r in rows)
    assert {p.name for p in export.iterdir()} >= {'gpu_check.json', 'gpu_check.md', 'gpu_check.log'}
    print(f'CPU fallback: {seconds:.0f} s')


@pytest.mark.slow
def test_gpu_size_training_configs_build_and_load(tmp_path):
    """What the GPU run trains, checked on the CPU: the configs load (custom hook, no pretrained weights, the loop
    shortened), the models build with their SNL block, and one batch comes at the real size."""
    code = textwrap.dedent(f'''
        import json
        from pathlib import Path
        from mmengine.config import Config
        from mmengine.runner import Runner
        from mmengine.utils import import_modules_from_strings
        from snl_plugins.analysis import gpu_check as gc
        from snl_plugins.demos.video import write_moving_digits
        from snl_plugins.demos.scenes import write_digit_scenes
        from snl_plugins.apis import setup_scope
        out = Path({str(tmp_path)!r})
        data = write_moving_digits(out / 'ucf', n_train_groups=1, n_test_groups=1, clips_per_group=1)
        cfgs = [gc._i3d_config(out / 'i3d.py', data, 2, 4, 0, True, out / 'p.jsonl'),
                gc._seg_config(out / 'seg.py', write_digit_scenes(out / 'digits', n_train=2, n_val=1), 2, 4, 0, True,
                               out / 'q.jsonl')]
        found = []
        for path in cfgs:
            cfg = Config.fromfile(str(path))
            import_modules_from_strings(**cfg.custom_imports)  # as the Runner does
            setup_scope(cfg)
            from mmengine.registry import MODELS
            model = MODELS.build(cfg.model)
            batch = next(iter(Runner.build_dataloader(cfg.train_dataloader)))
            found.append(dict(shape=list(batch['inputs'][0].shape), load_from=cfg.load_from,
                              hooks=[h['type'] for h in cfg.custom_hooks], loop=cfg.train_cfg['type'],
                              iters=cfg.train_cfg['max_iters'], checkpoint=cfg.default_hooks['checkpoint'],
                              blocks=[n for n, m in model.named_modules() if type(m).__name__ == 'SNL']))
        print(json.dumps(found))
    ''')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    i3d, seg = json.loads(proc.stdout.strip().splitlines()[-1])
    assert i3d['shape'] == [1, 3, 32, 224, 224] and seg['shape'] == [3, 512, 512]  # mmaction2's / mmseg's sizes
    for r in (i3d, seg):
        assert r['load_from'] is None and r['hooks'] == ['AmpProbeHook'] and r['checkpoint'] is None
        assert r['loop'] == 'IterBasedTrainLoop' and r['iters'] == 4
        assert r['blocks'] == ['backbone.layer3.snl_before_5']


def test_report_with_failed_and_skipped_parts():
    """A report whose sections failed, timed out or were skipped still renders, naming what went wrong."""
    report = dict(gpu_found=True, device='cuda', started='now', total_s=470.0, time_limit_s=460.0,
                  sections=dict(device=dict(status='ok', seconds=0.1),
                                matmul=dict(status='failed', seconds=0.2, error='RuntimeError: CUDA error'),
                                precision=dict(status='timeout', seconds=150.0),
                                train=dict(status='failed', seconds=3.0)),
                  results=dict(precision=dict(command='python tools/analysis/precision_matrix.py', status='timeout',
                                              timeout_s=150.0, seconds=150.0),
                               train=dict(runs=dict(i3d=dict(model='I3D-R50 + SNL', batch=8, max_iters=4,
                                                             amp=True, amp_args=['--amp'], status='skipped',
                                                             error='time budget spent')))))
    report['goals'] = gc.goals(report['results'], gc.plan_for('cuda', quick=False), 'cuda')
    assert report['goals']['met'] is None and report['goals']['fwd+bwd']['speedup_vs_mmcv'] is None
    md = gc.to_markdown(report)
    assert '| matmul | failed | 0.2 | RuntimeError: CUDA error |' in md
    assert '| precision | timeout |' in md and 'skipped: time budget spent' in md
