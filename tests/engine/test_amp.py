"""CPUAmpOptimWrapper (snl_plugins.engine.amp): CPU autocast with the interface of mmengine's AmpOptimWrapper, a
gradient scaler for float16 (skip + count + back off on inf, scaler state in the state dict), none for bfloat16; and
what ``tools/train.py --amp [--amp-dtype]`` makes of a config with and without CUDA."""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

import snl_plugins  # noqa: F401  (registers CPUAmpOptimWrapper)
from snl_plugins import apis as runner
from snl_plugins.engine import CPUAmpOptimWrapper

ROOT = Path(__file__).resolve().parents[2]
CIFAR_CFG = str(ROOT / 'configs/classification/preresnet/preresnet20_1xb128-300e_cifar10.py')


def wrapper(dtype='float16', **kwargs):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    return model, CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dtype=dtype, **kwargs)


def hub_value(key):
    return MessageHub.get_current_instance().get_scalar(key).current()


@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_optim_context_autocasts_on_cpu_with_the_dtype(dtype):
    model, ow = wrapper(dtype)
    assert not torch.is_autocast_enabled('cpu')
    with ow.optim_context(model):
        assert torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == getattr(torch, dtype)
        assert model(torch.randn(2, 4)).dtype == getattr(torch, dtype)
    assert not torch.is_autocast_enabled('cpu')
    assert model(torch.randn(2, 4)).dtype == torch.float32


def test_float16_scales_the_loss_and_steps():
    model, ow = wrapper('float16')
    assert isinstance(ow.loss_scaler, torch.amp.GradScaler) and ow.loss_scaler.get_scale() == 2.0 ** 16
    before = model.weight.detach().clone()
    x = torch.randn(8, 4)
    with ow.optim_context(model):
        loss = model(x).float().pow(2).mean()
    loss.backward(retain_graph=True)
    plain = model.weight.grad.clone()
    model.zero_grad()
    ow.backward(loss)  # scaled: the gradient is 2^16 times the plain one
    torch.testing.assert_close(model.weight.grad, plain * 2.0 ** 16)
    ow.step()
    ow.zero_grad()
    torch.testing.assert_close(model.weight.detach(), before - 0.1 * plain)  # the step used the unscaled gradient
    assert ow.skipped_steps == 0 and hub_value('train/skipped_steps') == 0
    assert hub_value('train/loss_scale') == 2.0 ** 16


def test_inf_gradient_skips_the_step_counts_it_and_halves_the_scale():
    model, ow = wrapper('float16')
    before = model.weight.detach().clone()
    with ow.optim_context(model):
        loss = model(torch.randn(2, 4)).float().sum() * torch.tensor(float('inf'))
    ow.update_params(loss)
    torch.testing.assert_close(model.weight.detach(), before)  # no update
    assert model.weight.grad is None or not model.weight.grad.any()  # zeroed after the skipped step
    assert ow.skipped_steps == 1 and ow.loss_scaler.get_scale() == 2.0 ** 15
    assert hub_value('train/skipped_steps') == 1 and hub_value('train/loss_scale') == 2.0 ** 15
    with ow.optim_context(model):  # a finite step afterwards goes through and the count stays
        loss = model(torch.randn(2, 4)).float().pow(2).mean()
    ow.update_params(loss)
    assert not torch.equal(model.weight.detach(), before)
    assert ow.skipped_steps == 1 and ow.loss_scaler.get_scale() == 2.0 ** 15


def test_nan_gradient_is_skipped_with_clipping_on_unscaled_gradients():
    model, ow = wrapper('float16', clip_grad=dict(max_norm=1e6))
    with ow.optim_context(model):
        loss = model(torch.randn(8, 4)).float().pow(2).mean()
    ow.update_params(loss)
    grad_norm = MessageHub.get_current_instance().get_scalar('train/grad_norm').current()
    assert grad_norm < 1e3  # clipped after unscale_: the norm of the true gradient, not 2^16 times it
    with ow.optim_context(model):
        loss = model(torch.randn(2, 4)).float().sum() * torch.tensor(float('nan'))
    before = model.weight.detach().clone()
    ow.update_params(loss)
    torch.testing.assert_close(model.weight.detach(), before)
    assert ow.skipped_steps == 1 and ow.loss_scaler.get_scale() == 2.0 ** 15


def test_static_loss_scale_skips_without_changing_the_scale():
    model, ow = wrapper('float16', loss_scale=512.0)
    with ow.optim_context(model):
        loss = model(torch.randn(2, 4)).float().sum() * torch.tensor(float('inf'))
    ow.update_params(loss)
    assert ow.skipped_steps == 1 and ow.loss_scaler.get_scale() == 512.0


def test_state_dict_round_trips_scaler_and_skip_count():
    model, ow = wrapper('float16', loss_scale=dict(init_scale=1024.0, growth_interval=3))
    opt_kwargs = dict(momentum=0.9)
    ow.optimizer = torch.optim.SGD(model.parameters(), lr=0.1, **opt_kwargs)
    for bad in (True, False, False):
        with ow.optim_context(model):
            loss = model(torch.randn(2, 4)).float().pow(2).mean()
        ow.update_params(loss * torch.tensor(float('inf')) if bad else loss)
    state = ow.state_dict()
    assert state['loss_scaler']['scale'] == 512.0 and state['loss_scaler']['_growth_tracker'] == 2
    assert state['skipped_steps'] == 1 and 'state' in state and 'param_groups' in state

    model2, ow2 = wrapper('float16')
    ow2.optimizer = torch.optim.SGD(model2.parameters(), lr=0.1, **opt_kwargs)
    ow2.load_state_dict(state)
    assert 'loss_scaler' in state  # the caller's dict is left as it was
    assert ow2.loss_scaler.state_dict() == ow.loss_scaler.state_dict()
    assert ow2.skipped_steps == 1
    for k, v in ow.optimizer.state_dict()['state'].items():
        torch.testing.assert_close(ow2.optimizer.state_dict()['state'][k]['momentum_buffer'], v['momentum_buffer'])


def test_bfloat16_has_no_scaler_and_reports_no_skips():
    model, ow = wrapper('bfloat16')
    assert ow.loss_scaler is None and ow.cast_dtype == torch.bfloat16
    before = model.weight.detach().clone()
    with ow.optim_context(model):
        loss = model(torch.randn(8, 4)).float().pow(2).mean()
    ow.update_params(loss)
    assert not torch.equal(model.weight.detach(), before)
    assert ow.skipped_steps == 0 and hub_value('train/skipped_steps') == 0
    state = ow.state_dict()
    assert 'loss_scaler' not in state and state['skipped_steps'] == 0
    ow.load_state_dict(state)
    _, ow_scaled = wrapper('bfloat16', loss_scale='dynamic')  # asked for explicitly: a scaler
    assert isinstance(ow_scaled.loss_scaler, torch.amp.GradScaler)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='dtype'):
        wrapper('float32')
    with pytest.raises(TypeError, match='loss_scale'):
        wrapper('float16', loss_scale='static')


def test_built_from_the_registry_by_name():
    model = nn.Linear(4, 3)
    ow = build_optim_wrapper(model, dict(type='CPUAmpOptimWrapper', dtype='float16',
                                         optimizer=dict(type='SGD', lr=0.1)))
    assert isinstance(ow, CPUAmpOptimWrapper) and ow.cast_dtype == torch.float16 and ow.loss_scaler is not None
    assert torch.float16 == CPUAmpOptimWrapper(optimizer=ow.optimizer, dtype=torch.float16).cast_dtype


# tools/train.py --amp [--amp-dtype]

def _cfg(argv, cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    return runner.train_cfg_from_args(runner.parse_train_args([CIFAR_CFG, '--work-dir', 'wd'] + argv))


def test_amp_on_cpu_uses_the_cpu_wrapper(monkeypatch):
    cfg = _cfg(['--amp'], False, monkeypatch)
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert dict(data_src='loss_scale', method_name='min', window_size=1) in cfg.log_processor.custom_cfg
    assert cfg.log_processor.window_size == 50  # the rest of the config's processor is kept
    cfg = _cfg(['--amp', '--amp-dtype', 'float16'], False, monkeypatch)
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper' and cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.optimizer.type == 'SGD'


def test_amp_with_cuda_keeps_mmengine_wrapper(monkeypatch):
    cfg = _cfg(['--amp'], True, monkeypatch)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'
    assert 'dtype' not in cfg.optim_wrapper
    cfg = _cfg(['--amp', '--amp-dtype', 'bfloat16'], True, monkeypatch)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'


@pytest.mark.parametrize('cuda', [False, True])
@pytest.mark.parametrize('kind', ['AmpOptimWrapper', 'CPUAmpOptimWrapper'])
def test_amp_keeps_an_amp_wrapper_of_the_config(kind, cuda, monkeypatch):
    cfg = _cfg(['--amp', '--amp-dtype', 'float16', '--cfg-options', f'optim_wrapper.type={kind}'], cuda, monkeypatch)
    assert cfg.optim_wrapper.type == kind and 'dtype' not in cfg.optim_wrapper


def test_amp_refuses_other_wrappers_and_dtype_without_amp(monkeypatch, capsys):
    with pytest.raises(AssertionError, match='OptimWrapper'):
        _cfg(['--amp', '--cfg-options', 'optim_wrapper.type=ApexOptimWrapper'], False, monkeypatch)
    with pytest.raises(SystemExit):
        runner.parse_train_args([CIFAR_CFG, '--amp-dtype', 'float16'])
    assert '--amp-dtype needs --amp' in capsys.readouterr().err
    cfg = _cfg([], False, monkeypatch)
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
