"""Run a snippet in a fresh interpreter (sys.modules state matters for the compat workarounds)."""
import json
import os
import subprocess
import sys
import textwrap

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
