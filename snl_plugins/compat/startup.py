"""The mmcv-lite start-up hook: mmsegmentation's own ``tools/train.py`` / ``tools/test.py`` with mmcv-lite.

mmseg's tools call ``register_all_modules()`` before they read a config, which imports ``mmseg.models`` and so
``mmcv.ops``; with mmcv-lite that fails (``No module named 'mmcv._ext'``) before a config's ``custom_imports`` can load
``snl_plugins``. ``python -m snl_plugins.compat.startup install`` writes ``snl_plugins_mmcv_lite.pth`` into the
environment's site-packages; Python runs it at every start-up. It loads :mod:`._imports` and :mod:`.mmcv_ext`
(standard library only) from their files under their own names without importing the ``snl_plugins`` package (nor
torch), and adds a finder that applies the placeholder ``mmcv._ext`` when ``mmcv.ops`` is first imported and mmcv has
no compiled ops (:func:`.mmcv_ext.install_hook`). ``import snl_plugins`` later uses these same modules: nothing is
loaded twice. ``uninstall`` removes the file, ``status`` shows it. ``--dir DIR`` writes elsewhere (a site directory).
A full mmcv makes the hook a no-op.

A ``.pth`` written by the former ``python -m snl_plugins.mmseg.startup install`` points at
``snl_plugins/mmseg/_startup.py``, which no longer exists: it does nothing (the line checks that its file exists);
re-run ``install`` to get the hook back.
"""
import os
import os.path as osp
import sys
from typing import Optional

__all__ = ['PTH_NAME', 'default_site_dir', 'install', 'main', 'pth_line', 'uninstall']

PTH_NAME = 'snl_plugins_mmcv_lite.pth'
PROG = 'python -m snl_plugins.compat.startup'
_COMPAT_DIR = osp.dirname(osp.abspath(__file__))
_PACKAGE = 'snl_plugins.compat'
# What the .pth loads, in this order (each imports only the standard library and those before it).
_HOOK_MODULES = ('_imports', 'mmcv_ext')


def default_site_dir() -> str:
    """site-packages of the running interpreter (of the virtual environment, in one)."""
    import sysconfig
    return sysconfig.get_paths()['purelib']


def pth_line(compat_dir: str = _COMPAT_DIR) -> str:
    """The one line of the ``.pth`` file (a line starting with ``import`` is executed by ``site``).

    It loads the modules of ``compat_dir`` that the hook needs under their canonical names (``snl_plugins.compat.*``,
    unless already there) and installs the finder; it does nothing if ``compat_dir`` no longer holds them."""
    code = (f'd = {compat_dir!r}\n'
            f"if all(os.path.isfile(os.path.join(d, n + '.py')) for n in {_HOOK_MODULES!r}):\n"
            '    import importlib.util, sys\n'
            f'    for n in {_HOOK_MODULES!r}:\n'
            f'        k = {_PACKAGE + "."!r} + n\n'
            '        if k not in sys.modules:\n'
            "            s = importlib.util.spec_from_file_location(k, os.path.join(d, n + '.py'))\n"
            '            m = importlib.util.module_from_spec(s)\n'
            '            sys.modules[k] = m\n'
            '            try:\n'
            '                s.loader.exec_module(m)\n'
            '            except BaseException:\n'
            '                del sys.modules[k]\n'
            '                raise\n'
            f'    sys.modules[{_PACKAGE + ".mmcv_ext"!r}].install_hook()\n')
    return f'import os; exec({code!r}, {{"os": os}})\n'


def install(site_dir: Optional[str] = None) -> str:
    """Write the ``.pth`` file (idempotent); returns its path."""
    path = osp.join(site_dir or default_site_dir(), PTH_NAME)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'# snl_plugins: placeholder mmcv._ext for mmcv-lite, applied when mmcv.ops is imported '
                f'({PROG} uninstall removes this file)\n')
        f.write(pth_line())
    return path


def uninstall(site_dir: Optional[str] = None) -> Optional[str]:
    """Remove the ``.pth`` file; returns its path, or None if there was none."""
    path = osp.join(site_dir or default_site_dir(), PTH_NAME)
    if osp.isfile(path):
        os.remove(path)
        return path
    return None


def main(argv=None, prog: str = PROG) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n')[0])
    parser.add_argument('action', choices=('install', 'uninstall', 'status'))
    parser.add_argument('--dir', help=f'site directory (default: {default_site_dir()})')
    args = parser.parse_args(argv)
    if args.action == 'install':
        print(f'wrote {install(args.dir)}')
    elif args.action == 'uninstall':
        path = uninstall(args.dir)
        print(f'removed {path}' if path else 'not installed')
    else:
        path = osp.join(args.dir or default_site_dir(), PTH_NAME)
        print(f'installed: {path}' if osp.isfile(path) else f'not installed (would be {path})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
