"""Moved to :mod:`snl_plugins.apis`; this path re-exports it for one release."""
from .apis import *  # noqa: F401,F403
from .apis import __all__  # noqa: F401
