"""Moved: VTN's temporal encoder is :mod:`snl_plugins.mmaction.vtn_encoder` (with the video adapter that uses it).
This path re-exports it for one release."""
from .mmaction.vtn_encoder import *  # noqa: F401,F403
from .mmaction.vtn_encoder import __all__  # noqa: F401
