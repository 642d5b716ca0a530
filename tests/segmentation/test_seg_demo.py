"""``make demo``'s default task, the digit scenes: the scenes in VOC layout (the context twist), the four configs, the
metrics and the affinity shares. The reduced end-to-end run is ``tests/e2e/test_demo_scenes.py``."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from snl_plugins.blocks import NonlocalBlock
from snl_plugins.demos import scenes
from snl_plugins.demos.harness import find_project_root

ROOT = find_project_root()


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('digits')
    voc = Path(scenes.write_digit_scenes(root, n_train=12, n_val=4, seed=1))
    return root, voc, json.loads((root / 'layout.json').read_text())


def test_scenes_in_voc_layout_with_the_context_twist(data):
    root, voc, layouts = data
    train = (voc / 'ImageSets/Segmentation/train.txt').read_text().split()
    val = (voc / 'ImageSets/Segmentation/val.txt').read_text().split()
    assert len(train) == 12 and len(val) == 4 and not set(train) & set(val) and set(layouts) == set(train + val)
    box_patches = []
    for name in train + val:
        img = Image.open(voc / 'JPEGImages' / f'{name}.jpg')
        mask_png = Image.open(voc / 'SegmentationClass' / f'{name}.png')
        assert img.size == mask_png.size == (64, 64) and img.mode == 'RGB' and mask_png.mode == 'P'
        mask = np.asarray(mask_png)
        lay = layouts[name]
        y, x = lay['box']
        box = mask[y:y + scenes.BOX, x:x + scenes.BOX]
        d = int(box[0, 0])
        assert d == 1 + lay['digit'] and (box == d).all()
        # the digit seen twice has the box's class, the other digit another one
        for cy, cx in lay['twice']:
            assert (mask[cy + 1:cy + 15, cx + 1:cx + 15] == d).all()
        oy, ox = lay['once']
        assert mask[oy + 1, ox + 1] not in (0, d)
        rest = mask.copy()
        rest[y - 1:y + scenes.BOX + 1, x - 1:x + scenes.BOX + 1] = 0
        assert (rest > 0).sum() == 3 * 14 * 14
        box_patches.append(np.asarray(img)[y + 1:y + 11, x + 1:x + 11].astype(int))
    # every box looks the same: nothing inside it tells its class
    assert np.ptp(np.stack([p.mean() for p in box_patches])) < 3


@pytest.mark.parametrize('model', scenes.MODELS, ids=lambda m: m.key)
def test_configs_build_and_run_with_the_block_at_one_place(model):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(ROOT / model.config))
    assert cfg.model.decode_head.num_classes == 11 and cfg.train_cfg.max_iters == scenes.ITERS
    with DefaultScope.overwrite_default_scope('mmseg'):
        net = MODELS.build(cfg.model)
    assert net.backbone.depth == 18
    blocks = {n: m for n, m in net.named_modules() if isinstance(m, NonlocalBlock)}
    want = {'plain': None, 'nl': 'NL', 'snl': 'SNL', 'gsnl': 'gSNL'}[model.key]
    assert [(n, type(m).__name__) for n, m in blocks.items()] == ([] if want is None else [
        (f'backbone.layer3.{want.lower()}_before_1', want)])  # one block, at the same place for every model
    if model.key == 'nl':  # its own paper's form
        assert next(iter(blocks.values())).kernel == 'embedded_gaussian'
    net.eval()
    meta = dict(ori_shape=(64, 64), img_shape=(64, 64), pad_shape=(64, 64), padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        assert net.inference(torch.randn(1, 3, 64, 64), [meta]).shape == (1, 11, 64, 64)


def test_box_accuracy_and_test_metrics(data):
    root, voc, layouts = data
    names = sorted(layouts)[:3]
    gts = {n: np.asarray(Image.open(voc / 'SegmentationClass' / f'{n}.png')) for n in names}
    assert scenes.box_accuracy(gts, str(voc), layouts) == 100.0
    assert scenes.box_accuracy({n: np.zeros_like(g) for n, g in gts.items()}, str(voc), layouts) == 0.0
    with pytest.raises(ValueError, match='no box pixels'):
        scenes.box_accuracy({}, str(voc), layouts)
    line = '11/29 - mmengine - INFO - Iter(test) [13/13]    aAcc: 95.8700  mIoU: 80.4600  mAcc: 88.3900  fwIoU: 92.29'
    assert scenes.test_metrics('x\n' + line) == dict(aAcc=95.87, mIoU=80.46, mAcc=88.39, fwIoU=92.29)
    with pytest.raises(RuntimeError, match='Iter\\(test\\)'):
        scenes.test_metrics('nothing')


def test_affinity_shares_count_the_cells_of_each_digit():
    layout = dict(box=[2, 2], digit=3, twice=[[0, 32], [48, 48]], once=[16, 0])
    row = np.zeros((8, 8))
    row[0:2, 4:6] = 1.0  # the first repeated digit's cell (pixels 0-15 x 32-47)
    row[6:8, 6:8] = 1.0  # the second one's
    row[2:4, 0:2] = 2.0  # the other digit's
    shares = scenes.affinity_shares(row, layout)
    assert shares == pytest.approx(dict(twice=0.5, once=0.5, box=0.0))
    shares = scenes.affinity_shares(np.ones((8, 8)), layout)  # uniform: the cells' areas
    assert shares == pytest.approx(dict(twice=2 / 16, once=1 / 16, box=1 / 16))
