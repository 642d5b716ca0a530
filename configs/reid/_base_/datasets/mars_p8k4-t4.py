# Mars (Zheng et al. 2016): training clips of T = 4 frames (a random run of consecutive frames, Gao & Nevatia's sampling), resized /
# translated to 224 x 112 and flipped (one draw per clip), P = 8 identities x K = 4 tracklets per batch; test: every
# frame of a tracklet in consecutive clips of 4, the clip features averaged.
# data_root holds bbox_train/, bbox_test/, info/ as released. 625 training identities, 1,980 queries, 9,330 gallery
# tracklets (the queries left out of the gallery, torchreid / Gao & Nevatia). Mars's official evaluation instead:
# --cfg-options test_dataloader.dataset.query_in_gallery=True test_evaluator.protocol=mars_official
dataset_type = 'Mars'
data_root = 'data/mars'
num_identities = 625  # training identities: the classifier's size
seq_len = 4
frame_size = (224, 112)  # H x W
P, K = 8, 4

train_pipeline = [
    dict(type='Random2DTranslation', height=frame_size[0], width=frame_size[1], p=0.5),
    dict(type='RandomHorizontalFlip', p=0.5),
]
test_pipeline = [dict(type='Resize', size=frame_size, antialias=True)]

train_dataloader = dict(
    batch_size=P * K,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='RandomIdentitySampler', num_instances=K, batch_size=P * K),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', seq_len=seq_len, sampling='random',
                 pipeline=train_pipeline))
# one tracklet per step (it holds all its clips); the model runs its clips in chunks (test_clips_per_forward)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', seq_len=seq_len, sampling='dense',
                 max_clips=None, pipeline=test_pipeline))
val_evaluator = dict(type='VideoReIDMetric', ranks=(1, 5, 10, 20), distance='sqeuclidean', protocol='standard')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
