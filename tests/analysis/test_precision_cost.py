"""The cost benchmark of the mixed-precision design (tools/analysis/precision_cost.py,
snl_plugins.analysis.precision_cost): its alternative designs do what they are named for, and the tool writes its
table, JSON and plot."""
import json
import subprocess
import sys
from pathlib import Path

import torch

from snl_plugins.analysis.precision_cost import affinity_products_in_float32, cost_variants, measure_cost
from snl_plugins.ops import Affinity, lowrank_affinity

ROOT = Path(__file__).resolve().parents[2]


def test_products_in_float32_runs_the_factorised_products_in_float32_and_restores_the_design():
    design = Affinity.matmul
    torch.manual_seed(0)
    left, right = torch.rand(1, 4, 50), torch.rand(1, 4, 50)
    affinity = lowrank_affinity(left, right)
    z = torch.randn(1, 8, 50)
    exact = affinity.matmul(z)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = affinity.to(torch.bfloat16).matmul(z.bfloat16())
        with affinity_products_in_float32():
            high = affinity.to(torch.bfloat16).matmul(z.bfloat16())
    assert Affinity.matmul is design
    assert low.dtype == high.dtype == torch.bfloat16
    # the same bfloat16 operands: only the products' precision differs
    ref = torch.bmm(torch.bmm(z.bfloat16().float(), affinity.to(torch.bfloat16).right.float().transpose(1, 2)),
                    affinity.to(torch.bfloat16).left.float())
    assert torch.equal(high, ref.bfloat16())
    assert (low.float() - exact).norm() > (high.float() - exact).norm() * 0.5  # bfloat16 products are no better


def test_stage_variants_differ_only_in_the_embeddings_dtype(monkeypatch):
    variants = cost_variants(channels=16)
    design, _, _ = variants['Stage gSNL x3 factorised, bfloat16 autocast (design)']
    low, _, _ = variants['Stage gSNL x3 factorised, bfloat16 autocast, embeddings in bfloat16']
    assert design.float32_affinity and not low.float32_affinity
    assert all(torch.equal(a, b) for a, b in zip(design.state_dict().values(), low.state_dict().values()))
    from snl_plugins.blocks import base
    seen = []

    def spy(flat, weights):  # phi / psi's projection: what dtype autocast leaves its output in
        out = project(flat, weights)
        seen.append(out[0].dtype)
        return out

    project = base.project
    monkeypatch.setattr(base, 'project', spy)
    for stage in (design, low):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            stage(torch.rand(2, 16, 6, 6))
    assert seen == [torch.float32, torch.bfloat16]


def test_measure_cost_times_every_variant_against_its_design():
    rows = measure_cost(batch=1, channels=16, size=6, repeats=1)
    assert [r['variant'] for r in rows] == list(cost_variants(16))
    assert all(r['seconds'] > 0 for r in rows)
    for r in rows:
        assert (r['vs_design'] is None) == (', float32' in r['variant'])
        if '(design)' in r['variant']:
            assert r['vs_design'] == 1.0


def test_tool_writes_table_json_and_plot(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / 'tools/analysis/precision_cost.py'), '--channels', '16',
                          '--size', '6', '--repeats', '1', '--out', str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout
    assert '| SNL factorised, float16 autocast, products in float32 |' in out
    data = json.loads((tmp_path / 'precision_cost.json').read_text())
    assert len(data['rows']) == 10 and data['meta']['channels'] == 16
    assert (tmp_path / 'precision_cost.png').stat().st_size > 1000
    assert (tmp_path / 'precision_cost.md').read_text().endswith(out.split('\n\n', 1)[1].rstrip('\n') + '\n')
