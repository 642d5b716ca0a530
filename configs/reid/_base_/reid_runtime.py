# Runtime shared by the video re-ID configs (mmengine scope; our modules registered by `custom_imports`).
default_scope = 'mmengine'
custom_imports = dict(imports=['snl_plugins', 'snl_plugins.reid'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: atomic writes, old checkpoints removed only after a new one is complete, exact resume
    checkpoint=dict(type='SafeCheckpointHook', interval=50, max_keep_ckpts=3, save_last=True,
                    save_best='reid/mAP', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),  # sets the identity sampler's epoch
)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py falls back to gloo without a GPU
)

log_processor = dict(by_epoch=True, window_size=20)
log_level = 'INFO'
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])

load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
