"""Classification on mmengine: a ``BaseModel`` around timm models, the paper's data sets read in their standard layouts,
and top-k accuracy. Importing this registers ``TimmClassifier`` (MODELS), ``CIFAR10``, ``CIFAR100``, ``CUB200``,
``ImageFolder`` (DATASETS) and ``Accuracy`` (METRICS) in mmengine's root registries, reachable from every scope."""
from .datasets import CIFAR10, CIFAR100, CUB200, ClsDataset, ImageFolder, safe_unpickle
from .metrics import Accuracy
from .model import TimmClassifier, build_loss
from .transforms import build_transform, build_transforms, load_image

__all__ = ['Accuracy', 'CIFAR10', 'CIFAR100', 'CUB200', 'ClsDataset', 'ImageFolder', 'TimmClassifier', 'build_loss',
           'build_transform', 'build_transforms', 'load_image', 'safe_unpickle']
