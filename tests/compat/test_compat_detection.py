"""Each workaround detects its defect and leaves a fixed / full install untouched."""
import os
import pickle
import sys

import numpy as np
import pytest
import torch

from snl_plugins import compat

from _compat_subproc import installed, run_python


def _write(root, rel, text=''):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _fake_mmaction(root, with_drn):
    _write(root, 'mmaction/__init__.py')
    _write(root, 'mmaction/models/__init__.py', 'from .localizers import *\n')
    _write(root, 'mmaction/models/localizers/__init__.py', 'from .drn.drn import DRN\n__all__ = ["DRN"]\n')
    if with_drn:
        _write(root, 'mmaction/models/localizers/drn/__init__.py')
        _write(root, 'mmaction/models/localizers/drn/drn.py', 'DRN = "real DRN"\n')
    return str(root / 'mmaction')


def test_drn_detection(tmp_path):
    assert compat.mmaction_drn_missing(_fake_mmaction(tmp_path / 'broken', with_drn=False))
    assert not compat.mmaction_drn_missing(_fake_mmaction(tmp_path / 'fixed', with_drn=True))
    no_ref = _write(tmp_path / 'other', 'mmaction/models/localizers/__init__.py', 'from .bmn import BMN\n')
    assert not compat.mmaction_drn_missing(str(no_ref.parents[2]))


def test_mmcv_ext_detection(tmp_path):
    _write(tmp_path, 'lite/mmcv/__init__.py')
    _write(tmp_path, 'full/mmcv/__init__.py')
    _write(tmp_path, 'full/mmcv/_ext.cpython-311-x86_64-linux-gnu.so')
    assert compat.mmcv_ext_missing(str(tmp_path / 'lite/mmcv'))
    assert not compat.mmcv_ext_missing(str(tmp_path / 'full/mmcv'))


def test_full_mmcv_and_fixed_mmaction_are_untouched(tmp_path):
    _fake_mmaction(tmp_path, with_drn=True)
    _write(tmp_path, 'mmcv/__init__.py')
    _write(tmp_path, 'mmcv/_ext.py', 'nms = "real nms"\n')
    res = run_python('''
        import json, snl_plugins
        from snl_plugins import compat
        import mmcv._ext
        from mmaction.models.localizers import DRN
        print('RESULT=' + json.dumps(dict(applied=compat.applied(), nms=mmcv._ext.nms, drn=DRN)))
    ''', pythonpath=[str(tmp_path)])
    assert 'mmcv-ext-placeholder' not in res['applied'] and 'mmaction-drn-placeholder' not in res['applied']
    assert res['nms'] == 'real nms' and res['drn'] == 'real DRN'


def test_fixed_mmengine_or_old_torch_is_untouched(tmp_path, monkeypatch):
    fixed = _write(tmp_path, 'mmengine/runner/checkpoint.py',
                   'def load_from_local(filename, map_location):\n'
                   '    return torch.load(filename, map_location=map_location, weights_only=False)\n\n\nX = 1\n')
    assert not compat.mmengine_loader_lacks_weights_only(str(fixed.parents[1]))
    defect = compat.mmengine_loader_lacks_weights_only() and compat._torch_defaults_to_weights_only()
    assert defect == ('mmengine-checkpoint-loader' in compat.applied())
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    assert not compat._torch_defaults_to_weights_only()
    monkeypatch.setattr(torch, '__version__', '2.5.1')
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
    assert not compat._torch_defaults_to_weights_only()


def test_apply_is_idempotent():
    before = compat.applied()
    placeholders = {k: sys.modules.get(k) for k in ('mmcv._ext', 'mmaction.models.localizers.drn')}
    assert compat.apply() == before == compat.apply()
    assert placeholders == {k: sys.modules.get(k) for k in placeholders}


def test_placeholder_op_raises_clear_error():
    if not installed('mmcv-lite'):
        pytest.skip('full mmcv installed: no placeholder')
    assert 'mmcv-ext-placeholder' in compat.applied()
    ext = sys.modules['mmcv._ext']
    with pytest.raises(compat.MmcvOpsUnavailableError, match=r"'roi_align_forward'.*pip uninstall mmcv-lite"):
        ext.roi_align_forward(1, 2)
    with pytest.raises(AttributeError):
        ext.__wrapped__  # noqa: B018 - dunders are not ops


class _Payload:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_safe_allow_list(tmp_path, monkeypatch):
    monkeypatch.delenv(compat.TRUST_ENV, raising=False)
    ok = tmp_path / 'ok.pth'
    torch.save(dict(a=np.float64(1.5), b=np.arange(3, dtype=np.float32), c=np.array(['x']), d=np.int32(3),
                    e=np.bool_(True), w=torch.ones(2)), ok)
    loaded = compat.load_from_local(str(ok))
    assert loaded['a'] == 1.5 and loaded['b'].dtype == np.float32 and loaded['c'][0] == 'x'
    bad = tmp_path / 'bad.pth'
    torch.save(dict(arr=np.array([_Payload()], dtype=object)), bad)
    with pytest.raises(compat.UntrustedCheckpointError, match='posix.system|os.system'):
        compat.load_from_local(str(bad))
    from mmengine.logging import HistoryBuffer
    assert compat._restricted_getattr(HistoryBuffer, 'min') is HistoryBuffer.min
    for obj, name in ((HistoryBuffer, '__init__'), (os, 'system'), (np.ndarray, 'tofile')):
        with pytest.raises(pickle.UnpicklingError):
            compat._restricted_getattr(obj, name)


def test_check_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)  # as with setuptools >= 81
    monkeypatch.setitem(sys.modules, 'importlib_metadata', None)
    problems = compat.check_install()
    assert any("setuptools<81" in p for p in problems)
    if compat._package_dir('mmaction'):
        assert any('importlib_metadata' in p for p in problems)
    with pytest.raises(RuntimeError, match='setuptools<81'):
        compat.check_install(raise_error=True)
    monkeypatch.undo()
    assert compat.check_install() == []  # the tested stack is complete
