"""The core (ops, blocks, inject) needs torch alone: it imports, builds and runs with every host library blocked, and
``import snl_plugins`` then neither fails nor registers anything."""
import json
import subprocess
import sys
import textwrap

BLOCK_HOSTS = ('mmengine', 'mmcv', 'mmaction', 'mmseg', 'timm')


def _run(code: str) -> dict:
    # None in sys.modules: `import mmengine` raises ModuleNotFoundError and importlib.util.find_spec('mmengine') is
    # None, as when it is not installed
    prelude = f'''
        import sys
        for name in {BLOCK_HOSTS!r}:
            sys.modules[name] = None
    '''
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(prelude) + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_blocks_import_and_run_without_host_libraries():
    res = _run('''
        import json, warnings
        import torch
        from torch import nn
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            import snl_plugins.blocks
            from snl_plugins import SNL, NonlocalStage, insert_nonlocal, ops
            from snl_plugins.frames import FramesNonlocal
        x = torch.randn(2, 8, 4, 4)
        y = SNL(8)(x) + NonlocalStage(8, unit='gSNL', num_units=2)(x)
        y = y + FramesNonlocal(8, dict(type='SNL'), num_frames=2)(x)
        model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 1))
        insert_nonlocal(model, [dict(type='SNL', at='2', position='before')])
        try:
            insert_nonlocal(nn.Sequential(nn.Conv2d(3, 8, 1)), [dict(type='Mystery', at='0')])
        except ValueError as err:
            unknown = str(err)
        hosts = sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {hosts!r})
        print(json.dumps(dict(shape=list(y.shape), out=list(model(torch.randn(1, 3, 5, 5)).shape), hosts=hosts,
                              unknown=unknown, warnings=[str(w.message) for w in caught])))
    '''.replace('{hosts!r}', repr(BLOCK_HOSTS)))
    assert res['shape'] == [2, 8, 4, 4] and res['out'] == [1, 8, 5, 5]
    assert res['hosts'] == []
    assert "unknown block type 'Mystery'" in res['unknown'] and 'SNL' in res['unknown']
    assert not [w for w in res['warnings'] if 'snl_plugins' in w]  # absent hosts are skipped, not warned about


def test_import_snl_plugins_registers_blocks_in_mmengine_root_registry():
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent('''
        import snl_plugins
        from mmengine.registry import MODELS
        from snl_plugins.blocks import BLOCKS
        assert all(MODELS.get(name) is cls for name, cls in BLOCKS.items())
        assert MODELS.get('InjectNonlocal') is snl_plugins.inject_nonlocal
        snl_plugins.engine.register_all_modules()  # idempotent
        print('ok')
    ''')], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith('ok'), proc.stderr[-3000:]
