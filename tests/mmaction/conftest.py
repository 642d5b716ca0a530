"""mmaction2 scope and a local torchvision ResNet-50 file (tests/conftest.py puts tests/ on sys.path and sets one
intra-op thread)."""
import pytest

pytest.importorskip('mmaction')


@pytest.fixture(scope='session')
def _mmaction_registered():
    import snl_plugins  # noqa: F401  (drn placeholder, ResNetP3D, blocks)
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)


@pytest.fixture
def mmaction_scope(_mmaction_registered):
    """mmaction2's modules registered and its scope current (as mmaction2's tools do), restored afterwards."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


@pytest.fixture(scope='session')
def torchvision_r50(tmp_path_factory):
    """A local torchvision ResNet-50 state dict with non-trivial norms (stands in for the ImageNet download)."""
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.resnet50()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp('weights') / 'resnet50_torchvision.pth'
    torch.save(net.state_dict(), path)
    return str(path), net.eval()
