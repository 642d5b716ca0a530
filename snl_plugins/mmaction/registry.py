"""mmaction2's registries (children of mmengine's root registries, so our root-registered blocks and
``InjectNonlocal`` are found from the ``mmaction`` scope too)."""
try:
    from mmaction.registry import MODELS
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError('snl_plugins.mmaction needs mmaction2 (pip install "snl_plugins[video]", i.e. mmaction2>=1.2, '
                      f'decord and importlib_metadata): {err}') from err

__all__ = ['MODELS']
