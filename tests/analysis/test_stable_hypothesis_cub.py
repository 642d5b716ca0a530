"""Appendix D / Fig. 6: the stable hypothesis on CUB-200, three consecutive SNL (and NS) units before the last block
of res4 sharing one affinity (configs/classification/resnet/resnet50-{snl,ns}-sp3_1xb64-200e_cub200.py), through
tools/analysis/stable_hypothesis.py on a tiny CUB-format set and a checkpoint written here. The configs load an
ImageNet file when built; with a checkpoint the tool must not need it (here it names a file that does not exist)."""
import json
from pathlib import Path

import pytest
import torch

from fixtures.datasets import write_cub200

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('kind, unit', [('snl', 'SNL'), ('ns', 'NS')])
def test_stable_hypothesis_runs_on_the_appendix_d_models(kind, unit, tmp_path):
    from snl_plugins.analysis import stability
    from snl_plugins.analysis.common import load_model
    base = ROOT / 'configs' / 'classification' / 'resnet' / f'resnet50-{kind}-sp3_1xb64-200e_cub200.py'
    data = write_cub200(tmp_path / 'data', num_classes=2, n_train=1, n_test=2)
    cfg = tmp_path / f'tiny_{kind}.py'
    # 64 x 64 crops: layer3 maps of 4 x 4, N = 16 (the paper's 448 x 448 gives N = 28 x 28)
    cfg.write_text(f"_base_ = ['{base}']\n"
                   "test_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict("
                   f"data_root='{data}', pipeline=[dict(type='Resize', size=72, antialias=True), "
                   "dict(type='CenterCrop', size=64)]))\n"
                   f"model = dict(model=dict(pretrained_cfg_overlay=dict(file='{tmp_path / 'absent.pth'}')))\n")
    torch.manual_seed(0)
    model, _ = load_model(str(cfg), cfg_options={'model.model.pretrained': False})
    stage = model.model.layer3.get_submodule(f'{kind}_before_5')
    assert type(stage).__name__ == 'NonlocalStage' and stage.unit_type == unit and len(stage.units) == 3
    with torch.no_grad():  # not the identity, as after training
        for u in stage.units:
            u.norm.weight.fill_(1.0)
    ckpt = tmp_path / f'{kind}.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = stability.main([str(cfg), str(ckpt), '--out-dir', str(tmp_path / 'out'), '--no-progress'])
    res = json.loads((tmp_path / 'out' / 'stable_hypothesis.json').read_text())
    assert res == json.loads(json.dumps(out)) and (tmp_path / 'out' / 'stable_hypothesis.png').stat().st_size > 0
    (name, block), = res['blocks'].items()  # the stage's one affinity, shared by its three units
    assert name == f'model.layer3.{kind}_before_5' and block['type'] == f'SP3-{unit}'
    assert block['inputs'] == 4 and block['matrices'] == 4 and block['shapes_per_sample'] == [[16, 16]]
    assert block['all_entries'] and block['methods'] == ['dense']
    for k in ('A^1', 'A^2', 'A^3', 'A^4'):
        assert sum(block['histogram']['counts'][k]) == block['histogram']['entries'][k] == 4 * 16 * 16
    gap = block['idempotency_gap']
    assert gap['count'] == 4 and all(g >= 0 for g in gap['per_sample'])
