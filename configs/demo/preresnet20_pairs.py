_base_ = ['./preresnet20_digits.py']

# `tools/demo.py --task pairs`, the "context" variant: two of scikit-learn's digits (upsampled to 10x10) pasted at
# random places in opposite halves of a black 32x32 canvas; label `same` when both are the same digit, else
# `different` (balanced). Training pairs are drawn from the 1,297 training digits only, held-out pairs from the 500
# held-out digits only. The label depends on both digits, far apart: no local window decides it.
data_root = 'work_dirs/demo/data/pairs32'
classes = ('different', 'same')

# the pairs' own statistics (0-255 scale, training images): mean 15.2, std 47.7
data_preprocessor = dict(type='ImgDataPreprocessor', mean=[15.2, 15.2, 15.2], std=[47.7, 47.7, 47.7])
model = dict(data_preprocessor=data_preprocessor, model=dict(num_classes=2))

train_pipeline = [dict(type='RandomCrop', size=32, padding=1, padding_mode='constant')]
test_pipeline = []
train_dataloader = dict(dataset=dict(data_root=data_root, classes=classes, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, classes=classes, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1,))
test_evaluator = val_evaluator

max_epochs = 15
param_scheduler = dict(T_max=max_epochs, end=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
