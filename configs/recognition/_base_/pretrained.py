# The ONE place where the video configs find their initial weights: local files, nothing is fetched.
# Set these paths (or override them with --cfg-options) before training.
#
# ImageNet 2D ResNet-50 (a torchvision state dict, e.g. torch.save(torchvision.models.resnet50(weights=...).state_dict()))
# inflated into I3D when training on Kinetics-400 from ImageNet:
imagenet_resnet50 = 'checkpoints/resnet50_torchvision_imagenet.pth'
# Kinetics-400-pretrained 3D networks that the UCF-101 fine-tuning rows start from (paper Sec. 4.1 and App. F):
# an mmaction2 I3D-R50 checkpoint (e.g. trained with i3d/i3d_r50_8xb8-32x2x1-100e_kinetics400-rgb.py, or mmaction2's
# released i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb checkpoint, downloaded by hand):
kinetics400_i3d_r50 = 'checkpoints/i3d_r50_kinetics400.pth'
# Hara et al.'s 3D ResNet-50 (mmaction2 ResNet3d, 3x3x3 kernels) trained on Kinetics-400 with
# r3d/r3d_r50_8xb8-16x1x1-100e_kinetics400-rgb.py (the Table 8 rows in r3d/ fine-tune from it):
kinetics400_r3d_r50 = 'checkpoints/r3d_r50_kinetics400.pth'
# a Recognizer3D + ResNetP3D(depth=50) checkpoint trained on Kinetics-400:
kinetics400_p3d_r50 = 'checkpoints/p3d_r50_kinetics400.pth'
# VTN (configs/recognition/vtn): ImageNet 2D ResNet-34 (torchvision state dict) for the per-frame encoder on
# Kinetics-400, and the Kinetics-400 VTN / VTN + SNL checkpoints (trained with the vtn/*_kinetics400-rgb.py configs)
# that the UCF-101 rows fine-tune from:
imagenet_resnet34 = 'checkpoints/resnet34_torchvision_imagenet.pth'
kinetics400_vtn_r34 = 'checkpoints/vtn_r34_kinetics400.pth'
kinetics400_vtn_r34_snl = 'checkpoints/vtn_r34-snl_kinetics400.pth'
# MARS (mars/*.py): ResNeXt3D-101 checkpoints in mmengine form, trained with the mars configs or the authors' released
# files (craston/MARS: Flow_Kinetics_16f.pth, MARS_Kinetics_16f.pth, Flow_UCF101_16f.pth) converted with
# tools/convert/mars_to_mmaction.py. The flow teachers that MARS distils, and the Kinetics-400 MARS that UCF-101 starts from:
kinetics400_mars_flow = 'checkpoints/mars_resnext3d101_kinetics400_flow.pth'
ucf101_mars_flow = 'checkpoints/mars_resnext3d101_ucf101-split1_flow.pth'
kinetics400_mars_rgb = 'checkpoints/mars_resnext3d101_kinetics400_mars.pth'
# The Kinetics-400 VTN + SNL trained in the paper's harness (paper_harness/vtn_r34-snl-harness{,-sym}_8xb4-16x2x1-120e_
# kinetics400-rgb.py), which the UCF-101 harness rows fine-tune from (their blocks' normalisation must match):
kinetics400_vtn_r34_snl_harness = 'checkpoints/vtn_r34-snl-harness_kinetics400.pth'
kinetics400_vtn_r34_snl_harness_sym = 'checkpoints/vtn_r34-snl-harness-sym_kinetics400.pth'
