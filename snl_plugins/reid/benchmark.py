"""Test-time feature extraction speed of a re-ID config, in tracklets per second.

``python -m snl_plugins.reid.benchmark configs/reid/rtmtp_r50_1xp8k4-800e_mars.py [more configs] --frames 64
--tracklets 4 [--device cuda] [--amp]``: random uint8 tracklets of ``--frames`` frames at the config's frame size, cut
into the config's dense test clips, through the data preprocessor and ``RTM.tracklet_features`` (chunks of
``test_clips_per_forward`` clips), after ``--warmup`` tracklets. Randomly initialised weights (speed does not depend
on them). Configs are timed interleaved, round by round, so they share the machine's state.
"""
from __future__ import annotations

import argparse
import time
from typing import List, Sequence

import torch

__all__ = ['build_for_benchmark', 'main']


def build_for_benchmark(config: str, device: str = 'cpu'):
    from mmengine.config import Config
    from mmengine.registry import MODELS

    import snl_plugins.reid  # noqa: F401
    cfg = Config.fromfile(config)
    cfg.model.pretrained = None
    model = MODELS.build(cfg.model).to(device).eval()
    ds = cfg.test_dataloader.dataset
    return model, tuple(cfg.model.frame_size), int(ds.get('seq_len', 4))


def main(argv: Sequence[str] = None) -> List[dict]:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+')
    p.add_argument('--frames', type=int, default=64, help='frames per tracklet (Mars test tracklets: ~60 on average)')
    p.add_argument('--tracklets', type=int, default=4, help='timed tracklets per config and round')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--amp', action='store_true', help='bfloat16 autocast')
    args = p.parse_args(argv)
    from .datasets import sample_clips

    runs = []
    for c in args.configs:
        model, (h, w), seq_len = build_for_benchmark(c, args.device)
        idx = torch.from_numpy(sample_clips(args.frames, seq_len, 'dense'))
        frames = torch.randint(0, 256, (args.frames, 3, h, w), dtype=torch.uint8)
        runs.append(dict(config=c, model=model, clips=frames[idx], times=[]))

    def one(run):
        data = run['model'].data_preprocessor(dict(inputs=[run['clips']], data_samples=None))
        with torch.no_grad(), torch.autocast(args.device.split(':')[0], torch.bfloat16, enabled=args.amp):
            run['model'].tracklet_features(data['inputs'])
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()

    for run in runs:
        for _ in range(args.warmup):
            one(run)
    for _ in range(args.rounds):
        for run in runs:
            t = time.perf_counter()
            for _ in range(args.tracklets):
                one(run)
            run['times'].append((time.perf_counter() - t) / args.tracklets)
    out = []
    for run in runs:
        best = min(run['times'])
        out.append(dict(config=run['config'], tracklets_per_s=1.0 / best, frames_per_s=args.frames / best))
        print(f"{run['config']}: {1.0 / best:.2f} tracklets/s ({args.frames / best:.1f} frames/s; {args.frames} "
              f"frames a tracklet, device {args.device}, threads {torch.get_num_threads()})")
    return out


if __name__ == '__main__':
    main()
