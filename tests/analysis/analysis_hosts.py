"""Tiny models of every family our configs build (video, segmentation, re-ID), each over a tiny data set written
here and a checkpoint saved here, for the analysis tools' tests: a config inherits the real one and shrinks it
(frames, crop, backbone), as tests/e2e does for training."""
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs'


def save_checkpoint(config: Path, path: Path, seed: int = 0) -> str:
    """The model of ``config`` with fresh weights, saved as the Runner does; every block's norm weight set to 1 so the
    blocks (initialised as the identity) respond."""
    from snl_plugins.analysis.common import load_model, select_blocks
    torch.manual_seed(seed)
    model, _ = load_model(str(config))
    with torch.no_grad():
        for block in select_blocks(model).values():
            for name, p in block.named_parameters():
                if name.endswith('norm.weight'):
                    p.fill_(1.0)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def video_family(tmp: Path) -> dict:
    """I3D-R50 + SNL (3 classes, 16 frames of 64 x 64 so that the block's grid is 2 x 4 x 4, 2 clips per test video)
    over a UCF-101 copy of 3 test videos; P3D-R50 + SNL and VTN-R34 + SNL on the same data."""
    from fixtures.video import write_ucf101

    from snl_plugins.mmaction.data import write_ucf101_annotations
    root = write_ucf101(tmp / 'ucf101', frames=16, size=(64, 64))
    write_ucf101_annotations(root, splits=(1,))
    data = textwrap.dedent(f'''\
        test_pipeline = [dict(type='DecordInit', io_backend='disk'),
                         dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=2, test_mode=True),
                         dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 64)),
                         dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
        test_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                               dataset=dict(ann_file='{root}/ucf101_val_split_1_videos.txt',
                                            data_prefix=dict(video='{root}/UCF-101'), pipeline=test_pipeline))
        val_dataloader = test_dataloader
        load_from = None
        ''')
    i3d = tmp / 'i3d_r50-snl_tiny_ucf101.py'
    i3d.write_text(f"_base_ = ['{CONFIGS}/recognition/i3d/i3d_r50-snl_8xb8-32x2x1-100e_ucf101-split1-rgb.py']\n"
                   "model = dict(backbone=dict(module=dict(pretrained=None)), cls_head=dict(num_classes=3))\n" + data)
    p3d = tmp / 'p3d_r50-snl_tiny_ucf101.py'
    p3d.write_text(f"_base_ = ['{CONFIGS}/recognition/p3d/p3d_r50-snl_8xb8-16x2x1-100e_ucf101-split1-rgb.py']\n"
                   "model = dict(cls_head=dict(num_classes=3))\n" + data)
    # VTN + SNL: a 2D recognizer (NCHW), SNL over time in each of the head's 4 encoder layers; clips of 4 frames
    vtn = tmp / 'vtn_r34-snl_tiny_ucf101.py'
    vtn.write_text(textwrap.dedent(f'''\
        _base_ = ['{CONFIGS}/recognition/vtn/vtn_r34-snl_8xb2-16x2x1-200e_ucf101-split1-rgb.py']
        model = dict(cls_head=dict(num_classes=3, clip_len=4))
        load_from = None
        test_pipeline = [dict(type='DecordInit'),
                         dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=2, test_mode=True),
                         dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 32)),
                         dict(type='FormatShape', input_format='NCHW'), dict(type='PackActionInputs')]
        test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                               dataset=dict(ann_file='{root}/ucf101_val_split_1_videos.txt',
                                            data_prefix=dict(video='{root}/UCF-101'), pipeline=test_pipeline))
        '''))
    return dict(root=root, cfg=str(i3d), ckpt=save_checkpoint(i3d, tmp / 'i3d_snl.pth'),
                p3d_cfg=str(p3d), p3d_ckpt=save_checkpoint(p3d, tmp / 'p3d_snl.pth'),
                vtn_cfg=str(vtn), vtn_ckpt=save_checkpoint(vtn, tmp / 'vtn_snl.pth'))


def segmentation_family(tmp: Path) -> dict:
    """DeepLabV3-R50 + SNL (BN, narrow heads) over a VOC2012 copy of 2 validation images of odd sizes."""
    from fixtures.voc import write_voc
    data = write_voc(tmp / 'voc', n_train=1, n_val=2, size=[(45, 61), (50, 47)])
    cfg = tmp / 'deeplabv3_r50-d8-snl_tiny_voc.py'
    cfg.write_text(textwrap.dedent(f'''\
        _base_ = ['{CONFIGS}/segmentation/deeplabv3/deeplabv3_r50-d8-snl_4xb4-20k_voc12aug-512x512.py']
        data_root = '{data}'
        crop_size = (64, 64)
        norm_cfg = dict(type='BN', requires_grad=True)
        model = dict(pretrained=None, data_preprocessor=dict(size=crop_size),
                     backbone=dict(module=dict(norm_cfg=norm_cfg),
                                   blocks=[dict(type='SNL', at='layer3.-1', position='before', norm_cfg=norm_cfg)]),
                     decode_head=dict(channels=32, norm_cfg=norm_cfg),
                     auxiliary_head=dict(channels=16, norm_cfg=norm_cfg))
        test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(96, 53), keep_ratio=True),
                         dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
        val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                              dataset=dict(data_root=data_root, pipeline=test_pipeline))
        test_dataloader = val_dataloader
        '''))
    return dict(root=data, cfg=str(cfg), ckpt=save_checkpoint(cfg, tmp / 'deeplabv3_snl.pth'))


def reid_family(tmp: Path) -> dict:
    """RTMta + SNL over the clip (3D) and RTMtp + SNL per frame (2D), ResNet-18 at 32 x 16 frames, clips of 3, over a
    Mars copy."""
    from fixtures.reid import write_mars
    root = write_mars(tmp / 'mars')
    out = dict(root=root)
    for key, base in (('ta3d', 'rtmta_r50-snl3d_1xp8k4-800e_mars.py'), ('tp2d', 'rtmtp_r50-snl_1xp8k4-800e_mars.py')):
        cfg = tmp / base.replace('_1xp8k4-800e_mars', '_tiny_mars')
        cfg.write_text(textwrap.dedent(f'''\
            _base_ = ['{CONFIGS}/reid/{base}']
            data_root = '{root}'
            test_pipeline = [dict(type='Resize', size=(32, 16), antialias=True)]
            model = dict(backbone=dict(name='resnet18'), pretrained=None, frame_size=(32, 16), num_classes=4,
                         test_clips_per_forward=3)
            val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                                  dataset=dict(data_root=data_root, seq_len=3, pipeline=test_pipeline))
            test_dataloader = val_dataloader
            '''))
        out[key] = dict(cfg=str(cfg), ckpt=save_checkpoint(cfg, tmp / f'rtm_{key}.pth'))
    return out
