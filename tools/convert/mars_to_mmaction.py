#!/usr/bin/env python
"""Convert a checkpoint released with MARS (craston/MARS: RGB_*, Flow_*, MARS_*_16f.pth; 3D ResNeXt-101 in
nn.DataParallel) into an mmengine checkpoint for our configs (``load_from`` of a ``Recognizer3D`` / ``MARSRecognizer``
with ``ResNeXt3d`` + ``I3DHead``, or ``teacher_checkpoint``):

    python tools/convert/mars_to_mmaction.py Flow_Kinetics_16f.pth checkpoints/mars_resnext3d101_kinetics400_flow.pth

Keys: ``module.<name>`` -> ``backbone.<name>``, ``module.fc.{weight,bias}`` -> ``cls_head.fc_cls.{weight,bias}``
(:func:`snl_plugins.mmaction.mars.mars_to_mmaction`). The authors' files hold tensors, numbers and strings only, so they
are read with ``torch.load(weights_only=True)``; the optimizer state is dropped.
"""
import argparse
from pathlib import Path

import torch

from snl_plugins.mmaction.mars import convert_mars_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help="the authors' .pth file")
    parser.add_argument('dst', help='where to write the mmengine checkpoint')
    args = parser.parse_args(argv)
    converted = convert_mars_checkpoint(torch.load(args.src, map_location='cpu', weights_only=True))
    Path(args.dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(converted, args.dst)
    print(f"{args.src} -> {args.dst}: {len(converted['state_dict'])} tensors")


if __name__ == '__main__':
    main()
