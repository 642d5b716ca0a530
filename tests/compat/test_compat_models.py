"""mmaction.models and mmseg.models import and run after `import snl_plugins` (drn and mmcv._ext placeholders)."""
import pytest

from _compat_subproc import DEFECTIVE_STACK, run_python

pytestmark = pytest.mark.skipif(not DEFECTIVE_STACK, reason='about the defective stack (mmaction2 1.2.0 without drn, '
                                'mmcv-lite, mmengine 0.10.7)')


def test_openmmlab_models_import_and_run():
    res = run_python('''
        import json, pkgutil, sys
        import mmengine.runner  # already imported: the checkpoint loader must be patched at once
        import torch
        import snl_plugins
        from snl_plugins import compat
        out = dict(applied=list(compat.applied()), again=list(compat.apply()))
        out['imported_host'] = [m for m in ('mmcv.ops', 'mmaction.models', 'mmseg', 'mmseg.models')
                                if m in sys.modules]
        from mmengine.runner.checkpoint import CheckpointLoader
        out['loader_patched'] = CheckpointLoader._schemes[''] is compat.load_from_local

        import mmaction.models
        from mmaction.models import ResNet3d
        torch.manual_seed(0)
        r3d = ResNet3d(depth=18, pretrained=None, pretrained2d=False, conv1_kernel=(1, 7, 7),
                       inflate=(0, 0, 0, 0))
        r3d.eval()  # mmaction's ResNet3d.train() returns None: do not chain
        with torch.no_grad():
            y = r3d(torch.randn(1, 3, 4, 32, 32))
        out['r3d'] = list(y.shape)
        from mmaction.models.localizers import DRN
        try:
            DRN()
        except ImportError as e:
            out['drn'] = str(e)

        # bfloat16 class scores (mmaction-head-bfloat16-scores): the loss and accuracies come out, in float32
        from mmaction.models.heads import I3DHead
        from mmaction.structures import ActionDataSample
        samples = [ActionDataSample().set_gt_label(i) for i in (0, 1)]
        scores = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]], dtype=torch.bfloat16, requires_grad=True)
        losses = I3DHead(num_classes=3, in_channels=4).loss_by_feat(scores, samples)
        losses['loss_cls'].backward()
        out['bf16_head'] = [losses['top1_acc'].item(), losses['loss_cls'].dtype == torch.float32,
                            scores.grad.dtype == torch.bfloat16]

        import mmseg.models
        from mmseg.registry import MODELS as SMODELS
        from mmseg.utils import register_all_modules
        register_all_modules()
        norm = dict(type='BN', requires_grad=True)
        seg = SMODELS.build(dict(
            type='EncoderDecoder', data_preprocessor=dict(type='SegDataPreProcessor', size=(64, 64)),
            backbone=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
                          strides=(1, 2, 1, 1), norm_cfg=norm, contract_dilation=True),
            decode_head=dict(type='ASPPHead', in_channels=512, in_index=3, channels=16, dilations=(1, 12, 24, 36),
                             num_classes=3, norm_cfg=norm, align_corners=False,
                             loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            train_cfg=dict(), test_cfg=dict(mode='whole'))).eval()
        with torch.no_grad():
            logits = seg(torch.randn(1, 3, 64, 64), mode='tensor')
        out['seg'] = list(logits.shape)

        out['find_loader'] = repr(pkgutil.find_loader('mmcv._ext'))
        from mmengine.utils.dl_utils import mmcv_full_available
        out['mmcv_full_available'] = mmcv_full_available()
        import mmcv.ops
        try:
            mmcv.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)
            out['nms'] = 'no error'
        except compat.MmcvOpsUnavailableError as e:
            out['nms'] = str(e)
        print('RESULT=' + json.dumps(out))
    ''')
    assert res['applied'] == res['again'] == ['mmaction-drn-placeholder', 'mmcv-ext-placeholder',
                                              'mmengine-checkpoint-loader', 'mmaction-head-bfloat16-scores']
    assert res['bf16_head'] == [0.5, True, True]
    # the heavy host modules the placeholders must precede are not imported by `import snl_plugins`
    assert res['imported_host'] == []
    assert res['loader_patched']
    assert res['r3d'][:2] == [1, 512]
    assert '#2714' in res['drn']
    assert res['seg'] == [1, 3, 8, 8]
    assert res['find_loader'] == 'None' and res['mmcv_full_available'] is False
    assert "'nms'" in res['nms'] and 'pip uninstall mmcv-lite && pip install mmcv==2.1.0' in res['nms']
