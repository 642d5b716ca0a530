# iLIDS-VID (Wang et al. 2014): training clips of T = 4 frames (a random run of consecutive frames, Gao & Nevatia's sampling), resized /
# translated to 224 x 112 and flipped (one draw per clip), P = 8 identities x K = 4 tracklets per batch; test: every
# frame of a tracklet in consecutive clips of 4, the clip features averaged.
# data_root holds i-LIDS-VID/sequences/cam1|cam2/ (and optionally 'train-test people splits/'). 150 / 150 persons;
# query cam1, gallery cam2. Split 0 of 10 (splits_ilidsvid.json beside the data); the others: split_id=1..9.
dataset_type = 'iLIDSVID'
data_root = 'data/ilids-vid'
num_identities = 150  # training identities: the classifier's size
seq_len = 4
frame_size = (224, 112)  # H x W
P, K = 8, 4
split_id = 0

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
                 pipeline=train_pipeline, split_id=split_id))
# one tracklet per step (it holds all its clips); the model runs its clips in chunks (test_clips_per_forward)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', seq_len=seq_len, sampling='dense',
                 max_clips=None, pipeline=test_pipeline, split_id=split_id))
val_evaluator = dict(type='VideoReIDMetric', ranks=(1, 5, 10, 20), distance='sqeuclidean', protocol='standard')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
