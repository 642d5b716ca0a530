"""Deprecated: the mmcv-lite start-up hook moved to :mod:`snl_plugins.compat.startup`
(``python -m snl_plugins.compat.startup install|uninstall|status``). This module re-exports it for one release, and
``python -m snl_plugins.mmseg.startup ...`` still works, with a note on stderr.

A ``.pth`` written by this command before the move points at ``snl_plugins/mmseg/_startup.py``, which is gone: it
now does nothing; re-run ``install`` (either command) to get the hook back.
"""
import sys

from ..compat.startup import PTH_NAME, default_site_dir, install, pth_line, uninstall  # noqa: F401
from ..compat.startup import main as _main

__all__ = ['PTH_NAME', 'default_site_dir', 'install', 'main', 'pth_line', 'uninstall']


def main(argv=None) -> int:
    print('note: python -m snl_plugins.mmseg.startup is deprecated and will be removed in the next release; '
          'use python -m snl_plugins.compat.startup', file=sys.stderr)
    return _main(argv, prog='python -m snl_plugins.mmseg.startup')


if __name__ == '__main__':
    sys.exit(main())
