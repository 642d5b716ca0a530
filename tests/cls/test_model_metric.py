"""TimmClassifier (modes, local pretrained file, CIFAR stem), Accuracy, and the runner's argument handling."""
import os

import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.registry import METRICS, MODELS, init_default_scope

import snl_plugins  # noqa: F401
from snl_plugins.cls import Accuracy, TimmClassifier
from snl_plugins import apis as runner
from snl_plugins.cls.model import _import_timm_models

_import_timm_models()

TINY = dict(name='resnet18', pretrained=False, num_classes=3)
CIFAR_CFG = os.path.join(os.path.dirname(__file__), '..', '..', 'configs', 'classification', 'preresnet',
                         'preresnet20_1xb128-300e_cifar10.py')


def _model(**kw):
    init_default_scope('mmengine')
    return MODELS.build(dict(type='TimmClassifier', model=dict(TINY, **kw.pop('model', {})),
                             data_preprocessor=dict(mean=[128.0] * 3, std=[64.0] * 3), **kw))


def test_modes_through_the_data_preprocessor():
    torch.manual_seed(0)
    model = _model()
    batch = dict(inputs=torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), data_samples=torch.tensor([0, 1, 2, 1]))
    data = model.data_preprocessor(batch, training=True)
    assert data['inputs'].dtype == torch.float32 and abs(float(data['inputs'].mean())) < 0.5  # normalised
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss'} and losses['loss'].ndim == 0 and torch.isfinite(losses['loss'])
    preds = model(**data, mode='predict')
    assert len(preds) == 4 and preds[1]['gt_label'] == 1
    assert torch.allclose(preds[0]['pred_score'].sum(), torch.tensor(1.0))
    assert model(data['inputs'], mode='tensor').shape == (4, 3)
    # train_step / val_step as the Runner calls them, with the pseudo_collate form (lists)
    from mmengine.optim import OptimWrapper
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log = model.train_step(dict(inputs=list(batch['inputs']), data_samples=[0, 1, 2, 1]), ow)
    assert torch.isfinite(log['loss'])
    assert len(model.val_step(dict(inputs=list(batch['inputs']), data_samples=[0, 1, 2, 1]))) == 4
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(data['inputs'], mode='nope')


def test_loss_from_torch_nn_with_kwargs():
    model = _model(loss=dict(type='CrossEntropyLoss', label_smoothing=0.1))
    assert isinstance(model.loss_module, torch.nn.CrossEntropyLoss) and model.loss_module.label_smoothing == 0.1


def test_pretrained_from_local_file_via_overlay(tmp_path):
    src = timm.create_model('resnet18', num_classes=1000)
    path = tmp_path / 'resnet18_in1k.pth'
    torch.save(src.state_dict(), path)
    model = _model(model=dict(pretrained=True, pretrained_cfg_overlay=dict(file=str(path))))
    assert torch.equal(model.model.conv1.weight, src.conv1.weight)
    assert torch.equal(model.model.layer4[1].conv2.weight, src.layer4[1].conv2.weight)
    assert model.model.fc.out_features == 3  # the 1000-class classifier was dropped, not loaded


def test_pretrained_into_a_model_with_blocks(tmp_path):
    assert timm.list_models('resnet18_snl'), 'import snl_plugins registers the timm names'
    src = timm.create_model('resnet18', num_classes=1000)
    path = tmp_path / 'r18.pth'
    torch.save(src.state_dict(), path)
    model = _model(model=dict(name='resnet18_snl', pretrained=True, pretrained_cfg_overlay=dict(file=str(path))))
    assert torch.equal(model.model.conv1.weight, src.conv1.weight)


def test_cifar_stem():
    model = _model(stem='cifar')
    assert model.model.conv1.kernel_size == (3, 3) and model.model.conv1.stride == (1, 1)
    assert isinstance(model.model.maxpool, torch.nn.Identity)
    feats = model.model.forward_features(torch.rand(1, 3, 32, 32))
    assert feats.shape[-1] == 4  # 32 / 8, not 32 / 32
    with pytest.raises(ValueError, match='stem'):
        _model(stem='imagenet')


def test_accuracy_values():
    metric = METRICS.build(dict(type='Accuracy', topk=(1, 2, 5)))
    scores = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    labels = [0, 1, 1, 2]  # ranks 0, 1, 1, 0
    metric.process({}, [dict(pred_score=s, gt_label=torch.tensor(l)) for s, l in zip(scores, labels)])
    res = metric.evaluate(4)
    assert res == {'accuracy/top1': 50.0, 'accuracy/top2': 100.0, 'accuracy/top5': 100.0}
    # ties go to the lower class index (as a stable sort): class 1 tied with class 0 is rank 1
    metric = Accuracy(topk=1)
    metric.process({}, [dict(pred_score=torch.tensor([0.5, 0.5]), gt_label=torch.tensor(1)),
                        dict(pred_score=torch.tensor([0.5, 0.5]), gt_label=torch.tensor(0))])
    assert metric.evaluate(2) == {'accuracy/top1': 50.0}
    with pytest.raises(ValueError):
        Accuracy(topk=(0,))


def test_train_args_amp_resume_and_cfg_options(tmp_path, monkeypatch):
    args = runner.parse_train_args([CIFAR_CFG, '--amp', '--resume', '--work-dir', str(tmp_path),
                             '--cfg-options', 'train_dataloader.batch_size=4', 'model.model.nl_at=[layer2.1]'])
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # with a GPU, --amp is mmengine's own wrapper
    cfg = runner.train_cfg_from_args(args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'
    monkeypatch.undo()
    if not torch.cuda.is_available():  # on a CPU, ours (tests/engine/test_amp.py)
        assert runner.train_cfg_from_args(args).optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert cfg.resume is True and cfg.load_from is None and cfg.work_dir == str(tmp_path)
    assert cfg.train_dataloader.batch_size == 4 and cfg.model.model.nl_at == ['layer2.1']
    assert cfg.launcher == 'none'
    cfg = runner.train_cfg_from_args(runner.parse_train_args([CIFAR_CFG, '--resume', 'x/epoch_3.pth']))
    assert cfg.resume is True and cfg.load_from == 'x/epoch_3.pth'
    assert cfg.work_dir == os.path.join('./work_dirs', 'preresnet20_1xb128-300e_cifar10')
    cfg = runner.test_cfg_from_args(runner.parse_test_args([CIFAR_CFG, 'ck.pth', '--out', 'p.pkl', '--launcher', 'pytorch']))
    assert cfg.load_from == 'ck.pth' and cfg.launcher == 'pytorch'
    assert cfg.test_evaluator[-1] == dict(type='DumpResults', out_file_path='p.pkl')
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        runner.train_cfg_from_args(runner.parse_train_args(['no_such.py']))


@pytest.mark.slow
@pytest.mark.parametrize('scope', ['mmaction', 'mmseg'])
def test_setup_scope_for_openmmlab_configs(scope):
    """The same tools serve mmaction2 / mmseg configs: their modules get registered, their scope becomes current,
    and our root-registered classifier stays buildable from it."""
    from mmengine.registry import DefaultScope
    pytest.importorskip({'mmaction': 'mmaction', 'mmseg': 'mmseg'}[scope])
    assert runner.setup_scope(Config(dict(default_scope=scope))) == scope
    assert DefaultScope.get_current_instance().scope_name == scope
    assert isinstance(MODELS.build(dict(type='TimmClassifier', model=TINY)), TimmClassifier)
    assert runner.setup_scope(Config(dict())) == 'mmengine'


def test_runner_init_weights_keeps_loaded_weights_and_identity_blocks(tmp_path):
    """mmengine's Runner calls model.init_weights(); it must neither re-initialise the loaded (pretrained) timm
    weights nor the blocks' zero-initialised norms."""
    path = tmp_path / 'r18.pth'
    torch.save(timm.create_model('resnet18', num_classes=3).state_dict(), path)
    model = _model(model=dict(name='resnet18_snl', pretrained=True, pretrained_cfg_overlay=dict(file=str(path))))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == []
    block = model.model.layer3.snl_before_1
    assert torch.count_nonzero(block.norm.weight) == 0
