#!/usr/bin/env python
"""Annotation files for mmaction2's VideoDataset from the standard UCF-101 layout or a Kinetics CSV.

UCF-101: ``python tools/data/ucf101_to_mmaction.py ucf101 data/ucf101 [--splits 1 2 3] [--check open|exists|none]``
reads ``data/ucf101/UCF-101/<Class>/v_*.avi`` and ``data/ucf101/ucfTrainTestlist/`` and writes
``data/ucf101/ucf101_{train,val}_split_N_videos.txt`` (paths relative to ``data/ucf101/UCF-101``). With
``--rawframes data/ucf101/rawframes [--modality rgb|flow|rgb+flow]`` (frames extracted in mmaction2's names,
``<Class>/v_.../img_00001.jpg``, ``x_00001.jpg``, ``y_00001.jpg``) it writes
``data/ucf101/ucf101_{train,val}_split_N_rawframes.txt`` (``<Class>/v_... <total_frames> <label>``) instead.

Kinetics: ``python tools/data/ucf101_to_mmaction.py kinetics train.csv videos_train/ out.txt [--classes-from
train_classes.txt] [--skip-missing]``. The logic is :mod:`snl_plugins.mmaction.data`.
"""
import argparse
import sys

from snl_plugins.mmaction.data import DataSetError, write_kinetics_annotations, write_ucf101_annotations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='dataset', required=True)
    u = sub.add_parser('ucf101', help='UCF-101 layout -> ucf101_{train,val}_split_N_videos.txt')
    u.add_argument('root', help='directory holding UCF-101/ and ucfTrainTestlist/')
    u.add_argument('--out-dir', help='where to write the lists (default: root)')
    u.add_argument('--splits', type=int, nargs='+', default=[1, 2, 3])
    u.add_argument('--check', choices=('open', 'exists', 'none'), default='open',
                   help='open every video (default), only check it exists, or neither')
    u.add_argument('--rawframes', help='write rawframe lists for the frames extracted to this directory')
    u.add_argument('--modality', choices=('rgb', 'flow', 'rgb+flow'), default='rgb+flow',
                   help='with --rawframes: which frames total_frames counts (rgb+flow, for MARS: the fewer of both)')
    k = sub.add_parser('kinetics', help='Kinetics CSV + videos -> one annotation file (+ _classes.txt)')
    k.add_argument('csv'), k.add_argument('videos'), k.add_argument('out')
    k.add_argument('--classes-from', help='a _classes.txt written for the training list (keeps labels aligned)')
    k.add_argument('--check', choices=('open', 'exists', 'none'), default='open')
    k.add_argument('--skip-missing', action='store_true', help='leave missing videos out (and list them)')
    args = parser.parse_args(argv)
    try:
        if args.dataset == 'ucf101':
            for f in write_ucf101_annotations(args.root, args.out_dir, args.splits, args.check,
                                              args.rawframes, args.modality):
                print(f'wrote {f}')
        else:
            classes = None
            if args.classes_from:
                with open(args.classes_from, encoding='utf-8') as f:
                    classes = [ln.rstrip('\n') for ln in f if ln.strip()]
            out, classes, missing = write_kinetics_annotations(args.csv, args.videos, args.out, classes, args.check,
                                                               args.skip_missing)
            print(f'wrote {out} ({len(classes)} classes)')
            if missing:
                print(f'{len(missing)} missing videos left out, e.g. {missing[:3]}')
    except DataSetError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
