"""The mmcv-lite start-up hook (snl_plugins.compat.startup): its .pth loads the stdlib-only modules it needs under
their own names, imports neither snl_plugins nor torch, and `import snl_plugins` later reuses those modules."""
import subprocess
import sys

from snl_plugins.compat import mmcv_ext_missing
from snl_plugins.compat.startup import PTH_NAME, install, pth_line, uninstall

from _compat_subproc import REPO, run_python


def test_hook_then_import_snl_plugins_loads_nothing_twice():
    res = run_python(f'''
        import json, sys
        before = set(sys.modules)
        exec({pth_line()!r})  # what site does with the .pth line at start-up
        new = set(sys.modules) - before
        out = dict(loaded=sorted(m for m in new if m.startswith(('snl_plugins', 'torch', 'mmcv'))),
                   first_finder=type(sys.meta_path[0]).__name__)
        hook_module = sys.modules['snl_plugins.compat.mmcv_ext']
        import mmcv.ops  # the hook fires here
        ext = sys.modules['mmcv._ext']
        out['placeholder_before_snl_plugins'] = getattr(ext, '__snl_placeholder__', False)
        out['snl_plugins_imported_by_mmcv_ops'] = 'snl_plugins' in sys.modules
        import snl_plugins
        from snl_plugins import compat
        from snl_plugins.compat import mmcv_ext, MmcvOpsUnavailableError
        out['same_module'] = hook_module is mmcv_ext is compat.mmcv_ext is sys.modules['snl_plugins.compat.mmcv_ext']
        out['same_imports'] = (compat._imports is sys.modules['snl_plugins.compat._imports']
                               is sys.modules[mmcv_ext._has_module_file.__module__])
        out['applied'] = list(compat.applied())
        out['error_classes'] = sorted({{f'{{m}}.{{c.__qualname__}}:{{id(c)}}'
                                        for m, mod in list(sys.modules.items()) if m.startswith('snl_plugins')
                                        for c in [getattr(mod, 'MmcvOpsUnavailableError', None)] if c}})
        import torch
        try:
            mmcv.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)
            out['nms'] = 'no error'
        except compat.MmcvOpsUnavailableError as e:
            out['nms'] = type(e) is MmcvOpsUnavailableError
        print('RESULT=' + json.dumps(out))
    ''')
    assert res['loaded'] == ['snl_plugins.compat._imports', 'snl_plugins.compat.mmcv_ext']  # no torch, no package
    assert res['first_finder'] == 'MmcvLiteFinder'
    assert res['same_module'] and res['same_imports']
    assert not res['snl_plugins_imported_by_mmcv_ops']
    assert len({c.rsplit(':', 1)[1] for c in res['error_classes']}) == 1, res['error_classes']
    if mmcv_ext_missing():
        assert res['placeholder_before_snl_plugins'] and res['nms'] is True
        assert 'mmcv-ext-placeholder' in res['applied']
    else:  # full mmcv: the hook does nothing
        assert not res['placeholder_before_snl_plugins'] and 'mmcv-ext-placeholder' not in res['applied']


def test_pth_of_a_moved_package_is_a_no_op(tmp_path):
    res = run_python(f'''
        import json, sys
        n = len(sys.meta_path)
        exec({pth_line(str(tmp_path / 'gone'))!r})
        print('RESULT=' + json.dumps([len(sys.meta_path) - n, sorted(m for m in sys.modules if m.startswith('snl'))]))
    ''')
    assert res == [0, []]


def test_install_uninstall_and_the_deprecated_cli(tmp_path):
    path = install(str(tmp_path))
    assert path == str(tmp_path / PTH_NAME)
    lines = (tmp_path / PTH_NAME).read_text().splitlines()
    assert lines[0].startswith('#') and 'snl_plugins.compat.startup uninstall' in lines[0]
    assert lines[1] + '\n' == pth_line() and lines[1].startswith('import ')
    proc = subprocess.run([sys.executable, '-m', 'snl_plugins.mmseg.startup', 'status', '--dir', str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == f'installed: {path}', proc.stderr
    assert 'deprecated' in proc.stderr and 'python -m snl_plugins.compat.startup' in proc.stderr
    from snl_plugins.mmseg import startup as old
    assert old.install is install and old.pth_line is pth_line and old.PTH_NAME == PTH_NAME
    assert uninstall(str(tmp_path)) == path and uninstall(str(tmp_path)) is None
