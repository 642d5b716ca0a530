"""``make test`` runs with ``SNL_NO_SKIPS=1``: a skipped test fails the run (tests/conftest.py)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_a_skip_fails_the_run_only_under_snl_no_skips(tmp_path):
    shutil.copy(Path(__file__).parent / 'conftest.py', tmp_path / 'conftest.py')
    (tmp_path / 'test_probe.py').write_text('import pytest\n\n\ndef test_skipped():\n    pytest.skip("absent")\n\n\n'
                                            'def test_passed():\n    pass\n')

    def run(**env):
        return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', str(tmp_path)],
                              cwd=tmp_path, env={**os.environ, 'SNL_NO_SKIPS': '', **env}, capture_output=True,
                              text=True)

    assert run().returncode == 0
    strict = run(SNL_NO_SKIPS='1')
    assert strict.returncode == 1 and '1 test(s) skipped' in strict.stdout
