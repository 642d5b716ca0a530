#!/usr/bin/env python
"""Convert the public PyTorch port of the P3D weights (qijiezhao/pseudo-3d-pytorch: ``p3d_rgb_199.checkpoint.pth.tar``
/ ``p3d_flow_199.checkpoint.pth.tar``, P3D-199 on Kinetics-400, converted there from the authors' Caffe model) into an
mmengine checkpoint for ``load_from`` of a ``Recognizer3D`` with ``ResNetP3D(depth=152, block_style='caffe')`` +
``I3DHead(num_classes=400)``:

    python tools/convert/p3d_to_mmaction.py p3d_rgb_199.checkpoint.pth.tar checkpoints/p3d199_kinetics400_caffe.pth

Keys: :func:`snl_plugins.mmaction.p3d.p3d199_to_mmaction`. The file is read with ``torch.load(weights_only=True)``
(tensors, numbers and strings); anything else in it (an optimizer state) is dropped. What this does not settle (see
docs/video.md): the input normalisation the weights expect.
"""
import argparse
from pathlib import Path

import torch

from snl_plugins.mmaction.p3d import convert_p3d_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='the public P3D port\'s .pth(.tar) file')
    parser.add_argument('dst', help='where to write the mmengine checkpoint')
    args = parser.parse_args(argv)
    converted = convert_p3d_checkpoint(torch.load(args.src, map_location='cpu', weights_only=True))
    Path(args.dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(converted, args.dst)
    meta = converted['meta']
    print(f"{args.src} -> {args.dst}: {len(converted['state_dict'])} tensors for ResNetP3D(depth={meta['depth']}, "
          f"in_channels={meta['in_channels']}, block_style='caffe')")


if __name__ == '__main__':
    main()
