"""tools/analysis/benchmark_seg.py: the configs it measures exist, and its table (the subprocess cases are run by hand:
``--sizes 64x64 --batches 1 --blocks none SNL --repeats 1``)."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location('benchmark_seg', ROOT / 'tools' / 'analysis' / 'benchmark_seg.py')
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_every_measured_config_exists():
    assert {'none', 'NL', 'NS', 'A2', 'CGNL', 'SNL', 'gSNL', 'NLHead (mmseg)', 'SNL head', 'gSNL head'} == set(
        bench.CONFIGS)
    assert all((bench.SEG / c).is_file() for c in bench.CONFIGS.values())


def test_table_ratios_to_the_plain_segmentor():
    rows = [dict(model='none', size='512x512', batch=1, time_s=0.1, peak_bytes=2 ** 30, params=1, paths=[]),
            dict(model='SNL', size='512x512', batch=1, time_s=0.11, peak_bytes=1.1 * 2 ** 30, params=1,
                 paths=['auto']),
            dict(model='NL', size='512x512', batch=2, error='OutOfMemoryError')]
    lines = bench.table(rows).splitlines()
    assert lines[2] == '| 512x512 | 1 | plain | 100 ms | 1.00 | 1.00 GiB | 1.00 | 0 MiB |'
    assert lines[3] == '| 512x512 | 1 | SNL (auto) | 110 ms | 1.10 | 1.10 GiB | 1.10 | 102 MiB |'
    assert 'failed: OutOfMemoryError' in lines[4]
