"""Make mmsegmentation's own ``tools/train.py`` / ``tools/test.py`` work with mmcv-lite: a start-up hook.

mmseg's tools call ``register_all_modules()`` before they read a config, which imports ``mmseg.models`` and so
``mmcv.ops``; with mmcv-lite that fails (``No module named 'mmcv._ext'``) before a config's ``custom_imports`` can load
``snl_plugins``. ``python -m snl_plugins.mmseg.startup install`` writes ``snl_plugins_mmcv_lite.pth`` into the
environment's site-packages; Python runs it at every start-up, and it only adds a finder that applies the placeholder
``mmcv._ext`` when ``mmcv.ops`` is first imported and mmcv has no compiled ops (see :mod:`._startup`). Nothing is
imported at start-up. ``uninstall`` removes the file, ``status`` shows it. ``--dir DIR`` writes elsewhere (a site
directory). A full mmcv makes the hook a no-op.
"""
import argparse
import os
import os.path as osp
import sys
import sysconfig
from typing import Optional

__all__ = ['PTH_NAME', 'default_site_dir', 'install', 'pth_line', 'uninstall']

PTH_NAME = 'snl_plugins_mmcv_lite.pth'
_STARTUP = osp.join(osp.dirname(osp.abspath(__file__)), '_startup.py')


def default_site_dir() -> str:
    """site-packages of the running interpreter (of the virtual environment, in one)."""
    return sysconfig.get_paths()['purelib']


def pth_line(startup: str = _STARTUP) -> str:
    """The one line of the ``.pth`` file (a line starting with ``import`` is executed by ``site``)."""
    code = (f'p = {startup!r}\n'
            'if os.path.isfile(p):\n'
            '    import importlib.util as u\n'
            "    s = u.spec_from_file_location('_snl_plugins_startup', p)\n"
            '    m = u.module_from_spec(s)\n'
            '    s.loader.exec_module(m)\n'
            '    m.install()\n')
    return f'import os; exec({code!r}, {{"os": os}})\n'


def install(site_dir: Optional[str] = None) -> str:
    """Write the ``.pth`` file (idempotent); returns its path."""
    path = osp.join(site_dir or default_site_dir(), PTH_NAME)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('# snl_plugins: placeholder mmcv._ext for mmcv-lite, applied when mmcv.ops is imported '
                '(python -m snl_plugins.mmseg.startup uninstall removes this file)\n')
        f.write(pth_line())
    return path


def uninstall(site_dir: Optional[str] = None) -> Optional[str]:
    path = osp.join(site_dir or default_site_dir(), PTH_NAME)
    if osp.isfile(path):
        os.remove(path)
        return path
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m snl_plugins.mmseg.startup', description=__doc__.split('\n')[0])
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
