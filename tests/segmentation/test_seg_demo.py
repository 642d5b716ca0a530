"""``make demo-seg``'s pieces: the digit scenes in VOC layout (the context twist), the demo configs, the table and the
predictions sheet. The full demo (minutes) is not run here; ``tools/demo_seg.py --iters 4`` was run by hand."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('mmseg')
pytest.importorskip('sklearn')
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from PIL import Image  # noqa: E402

from snl_plugins.mmseg import demo  # noqa: E402


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('digits')
    return root, Path(demo.write_digit_scenes(root, n_train=12, n_val=4, seed=1))


def test_scenes_in_voc_layout_with_the_context_twist(scenes):
    root, voc = scenes
    train = (voc / 'ImageSets/Segmentation/train.txt').read_text().split()
    val = (voc / 'ImageSets/Segmentation/val.txt').read_text().split()
    assert len(train) == 12 and len(val) == 4 and not set(train) & set(val)
    boxes = json.loads((root / 'boxes.json').read_text())
    box_patches = []
    for name in train + val:
        img = Image.open(voc / 'JPEGImages' / f'{name}.jpg')
        mask_png = Image.open(voc / 'SegmentationClass' / f'{name}.png')
        assert img.size == mask_png.size == (64, 64) and img.mode == 'RGB' and mask_png.mode == 'P'
        mask = np.asarray(mask_png)
        y, x = boxes[name]
        box = mask[y:y + 12, x:x + 12]
        d = int(box[0, 0])
        assert 1 <= d <= 10 and (box == d).all()
        # the box's class is the digit that appears twice elsewhere: two cells of class d beside the box's, and
        # one cell of another digit class
        rest = mask.copy()
        rest[y - 1:y + 13, x - 1:x + 13] = 0
        classes = set(np.unique(rest)) - {0}
        assert d in classes and len(classes) == 2
        cells_d = {(yy // 16, xx // 16) for yy, xx in zip(*np.nonzero(rest == d))}
        assert len(cells_d) == 2 and (rest > 0).sum() == 3 * 14 * 14
        box_patches.append(np.asarray(img)[y + 1:y + 11, x + 1:x + 11].astype(int))
    # every box looks the same: nothing inside it tells its class
    spread = np.ptp(np.stack([p.mean() for p in box_patches]))
    assert spread < 3


@pytest.mark.parametrize('name', [m[1] for m in demo.MODELS])
def test_demo_configs_build_and_run(name, scenes):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(demo.CFG_DIR / name))
    assert cfg.model.decode_head.num_classes == 11 and cfg.train_cfg.max_iters == 1200
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    assert model.backbone.depth == 18
    assert ('snl' in name) == any(n.endswith('layer3.snl_before_1') for n, _ in model.named_modules())
    model.eval()
    meta = dict(ori_shape=(64, 64), img_shape=(64, 64), pad_shape=(64, 64), padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        assert model.inference(torch.randn(1, 3, 64, 64), [meta]).shape == (1, 11, 64, 64)


def test_table_box_accuracy_and_sheet(scenes, tmp_path):
    root, voc = scenes
    boxes = json.loads((root / 'boxes.json').read_text())
    names = sorted(boxes)[:3]
    gts = {n: np.asarray(Image.open(voc / 'SegmentationClass' / f'{n}.png')) for n in names}
    assert demo._box_accuracy(gts, str(voc), boxes) == 100.0
    assert demo._box_accuracy({n: np.zeros_like(g) for n, g in gts.items()}, str(voc), boxes) == 0.0
    row = dict(model='m', aAcc=1, mIoU=2, mAcc=3, fwIoU=4, box_acc=5, train_s=6, params=7e6)
    assert demo.format_table([row]).splitlines()[2] == '| m | 1.00 | 2.00 | 3.00 | 4.00 | 5.00 | 6 s | 7.00 M |'
    png = demo.save_predictions_png(tmp_path / 'p.png', str(voc), [gts, gts], names, ['a', 'b'], scale=1)
    assert Image.open(png).size == (4 * 68 + 4, 3 * 68 + 4 + 14)
