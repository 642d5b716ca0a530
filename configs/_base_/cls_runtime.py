# Runtime shared by the classification configs (mmengine scope; our modules registered by `custom_imports`, so
# OpenMMLab's own tools can run these configs too).
default_scope = 'mmengine'
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.cls'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: atomic writes, old checkpoints removed only after a new one is complete, exact resume
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3, save_last=True,
                    save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; tools/train.py falls back to gloo when there is no GPU (or set dist_cfg.backend=gloo)
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(by_epoch=True, window_size=50)
log_level = 'INFO'

# Logs and scalars go to the work dir. TensorBoard is one line away: inherit '../_base_/tensorboard.py', or
# visualizer = dict(type='Visualizer',
#                   vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])

load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
