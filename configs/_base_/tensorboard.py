# Add TensorBoard logging to any config: `_base_ = [..., '../_base_/tensorboard.py']` (or, from the command line,
# --cfg-options "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]").
# Event files land in <work_dir>/<timestamp>/vis_data/; view with `tensorboard --logdir work_dirs`.
visualizer = dict(
    type='Visualizer',
    vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
