"""Run a snippet in a fresh interpreter (sys.modules state matters for the compat workarounds)."""
import json
import os
import subprocess
import sys
import textwrap

def installed(dist: str) -> str:
    """The installed version of a distribution, or '' (read from its metadata, not from the code under test)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return ''


def stack_is(**versions: str) -> bool:
    """Whether the installed stack is the one whose defects a test is about: ``stack_is(mmaction2='1.2.0')``;
    the value '*' only asks that the distribution is installed. The tests' skip conditions are decided from package
    metadata, never by the detection code under test."""
    return all(installed(d) and (v == '*' or installed(d) == v) for d, v in versions.items())


DEFECTIVE_STACK = stack_is(**{'mmaction2': '1.2.0', 'mmcv-lite': '*', 'mmengine': '0.10.7'})
TORCH_WEIGHTS_ONLY_DEFAULT = tuple(int(p) for p in installed('torch').split('+')[0].split('.')[:2]) >= (2, 6)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(code: str, env=None, pythonpath=(), timeout=120) -> dict:
    """Runs ``code``, which must print one JSON line starting with ``RESULT=`` last; returns it parsed."""
    full_env = dict(os.environ, **(env or {}))
    full_env['PYTHONPATH'] = os.pathsep.join([*pythonpath, REPO, full_env.get('PYTHONPATH', '')])
    full_env.setdefault('OMP_NUM_THREADS', '1')
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, cwd=REPO, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT=')]
    assert proc.returncode == 0 and lines, \
        f'rc={proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-6000:]}'
    return json.loads(lines[-1][len('RESULT='):])
