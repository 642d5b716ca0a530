"""The classification data sets read the standard on-disk layouts the fixtures write."""
import os
import pickle

import numpy as np
import pytest
import torch

from fixtures.datasets import (class_images, set_cifar_label, truncate_file, write_cifar10,  # noqa: E402
                               write_cifar100, write_cub200, write_image_folder)

from snl_plugins.cls import CIFAR10, CIFAR100, CUB200, ImageFolder, safe_unpickle  # noqa: E402
from snl_plugins.datacheck import DataSetError, UnreadableFileError  # noqa: E402


def test_cifar10_reads_pickle_batches(tmp_path):
    write_cifar10(tmp_path, n_train=25, n_test=10)
    train = CIFAR10(data_root=str(tmp_path), split='train')
    test = CIFAR10(data_root=str(tmp_path / 'cifar-10-batches-py'), split='test')  # the folder itself works too
    assert len(train) == 25 and len(test) == 10 and not train.test_mode and test.test_mode
    assert train.metainfo['classes'][:2] == ('airplane', 'automobile')
    # image 0 of data_batch_1, exactly as stored (no transform): row-major 3x32x32
    batch = safe_unpickle(str(tmp_path / 'cifar-10-batches-py' / 'data_batch_1'))
    item = train[0]
    assert item['inputs'].dtype == torch.uint8 and item['inputs'].shape == (3, 32, 32)
    assert torch.equal(item['inputs'], torch.from_numpy(batch['data'][0].reshape(3, 32, 32)))
    assert item['data_samples'] == batch['labels'][0]
    assert sorted(set(train.get_gt_labels().tolist())) == list(range(10))


def test_cifar100_fine_labels_and_transforms(tmp_path):
    write_cifar100(tmp_path, n_train=30, n_test=8, num_classes=100)
    ds = CIFAR100(data_root=str(tmp_path), split='train',
                  pipeline=[dict(type='RandomCrop', size=32, padding=4), dict(type='RandomHorizontalFlip', p=1.0)])
    raw = safe_unpickle(str(tmp_path / 'cifar-100-python' / 'train'))
    assert ds.get_gt_labels().tolist() == raw['fine_labels']
    assert len(ds.metainfo['classes']) == 100
    out = ds[3]['inputs']
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8


def test_cifar_pickle_with_bytes_keys_and_refusal_of_objects(tmp_path):
    # Python 2 era files loaded with encoding='bytes' have bytes keys: both kinds are accepted
    p = tmp_path / 'b'
    with open(p, 'wb') as f:
        pickle.dump({b'data': np.zeros((1, 3072), np.uint8), b'labels': [1]}, f, protocol=2)
    assert set(safe_unpickle(str(p))) == {'data', 'labels'}
    evil = tmp_path / 'evil'
    with open(evil, 'wb') as f:
        pickle.dump({'data': os.getcwd, 'labels': []}, f, protocol=2)  # a global that is not an array
    with pytest.raises(pickle.UnpicklingError, match=f'{evil}: refusing to unpickle posix.getcwd'):
        safe_unpickle(str(evil))


def test_cifar_missing_file_names_its_path(tmp_path):
    write_cifar10(tmp_path, n_train=10, n_test=5)
    missing = tmp_path / 'cifar-10-batches-py' / 'data_batch_3'
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=str(missing)):
        CIFAR10(data_root=str(tmp_path), split='train')
    CIFAR10(data_root=str(tmp_path), split='test')  # the test split does not need it
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'nowhere' / 'cifar-100-python')):
        CIFAR100(data_root=str(tmp_path / 'nowhere'))


def test_cub200_split_labels_and_grey_images(tmp_path):
    write_cub200(tmp_path, num_classes=3, n_train=3, n_test=2)
    train = CUB200(data_root=str(tmp_path), split='train',
                   pipeline=[dict(type='Resize', size=36, antialias=True), dict(type='RandomCrop', size=32)])
    test = CUB200(data_root=str(tmp_path), split='test', pipeline=[dict(type='CenterCrop', size=[40, 40])])
    assert len(train) == 9 and len(test) == 6
    assert train.get_gt_labels().tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert train.metainfo['classes'][0] == '001.Bird_1'
    grey = train[1]['inputs']  # image id 2 is a greyscale JPEG
    assert grey.shape == (3, 32, 32) and grey.dtype == torch.uint8
    assert test[0]['inputs'].shape == (3, 40, 40)
    (tmp_path / 'CUB_200_2011' / 'train_test_split.txt').unlink()
    with pytest.raises(FileNotFoundError, match='train_test_split.txt'):
        CUB200(data_root=str(tmp_path), split='train')


def test_cub200_missing_image_names_its_path(tmp_path):
    write_cub200(tmp_path, num_classes=2, n_train=1, n_test=1)
    ds = CUB200(data_root=str(tmp_path), split='train')
    os.remove(ds.get_data_info(0)['img_path'])
    with pytest.raises(FileNotFoundError, match=r'Bird_1_0000_1.jpg \(.*images.txt, line 1\)'):
        ds[0]


def test_image_folder(tmp_path):
    write_image_folder(tmp_path, classes=('b', 'a'), per_class=2)
    ds = ImageFolder(data_root=str(tmp_path), split='val')
    assert ds.metainfo['classes'] == ('a', 'b') and len(ds) == 4
    assert ds.get_gt_labels().tolist() == [0, 0, 1, 1]
    assert ds[0]['inputs'].shape == (3, 32, 32)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'test')):
        ImageFolder(data_root=str(tmp_path), split='test')


def test_unknown_transform_is_a_clear_error(tmp_path):
    write_cifar10(tmp_path, n_train=5, n_test=5)
    with pytest.raises(KeyError, match='NoSuchCrop'):
        CIFAR10(data_root=str(tmp_path), pipeline=[dict(type='NoSuchCrop')])


def test_fixture_images_carry_the_class():
    imgs = class_images([0, 1, 0], 2)
    assert imgs.shape == (3, 3, 32, 32)
    assert abs(imgs[0].mean(axis=(1, 2)) - imgs[2].mean(axis=(1, 2))).max() < 5


# --- bad data is refused when the data set is built, or named when a file is read (docs/reliability.md) ---------
@pytest.mark.parametrize('cls, writer, batch, key, label, classes', [
    (CIFAR10, write_cifar10, 'cifar-10-batches-py/data_batch_2', 'labels', 57, 10),
    (CIFAR10, write_cifar10, 'cifar-10-batches-py/data_batch_2', 'labels', -1, 10),
    (CIFAR100, write_cifar100, 'cifar-100-python/train', 'fine_labels', 100, 100),
])
def test_cifar_label_outside_the_classes_is_refused_at_build(tmp_path, cls, writer, batch, key, label, classes):
    writer(tmp_path, n_train=10, n_test=5)
    path = set_cifar_label(tmp_path / batch, 1, label, key=key)
    with pytest.raises(DataSetError, match=rf'{path}, image 1: label {label} is not one of the {classes} classes '
                                           rf'\(integers 0..{classes - 1}\) as .*meta'):
        cls(data_root=str(tmp_path), split='train')
    cls(data_root=str(tmp_path), split='test')  # the other split's batches are fine


def test_truncated_cifar_batch_names_the_file(tmp_path):
    write_cifar10(tmp_path, n_train=10, n_test=5)
    bad = truncate_file(tmp_path / 'cifar-10-batches-py' / 'data_batch_4')
    with pytest.raises(UnreadableFileError, match=f'unreadable CIFAR pickle: {bad}: UnpicklingError: pickle data was '
                                                  'truncated'):
        CIFAR10(data_root=str(tmp_path), split='train')


def test_truncated_images_name_the_file_and_list_line(tmp_path):
    write_cub200(tmp_path / 'cub', num_classes=2, n_train=2, n_test=1)
    cub = CUB200(data_root=str(tmp_path / 'cub'), split='train')
    bad = truncate_file(cub.get_data_info(2)['img_path'])  # image id 4: line 4 of images.txt
    lines = tmp_path / 'cub' / 'CUB_200_2011' / 'images.txt'
    with pytest.raises(UnreadableFileError, match=rf'unreadable image: {bad} \({lines}, line 4\): OSError: '):
        cub[2]
    write_image_folder(tmp_path / 'folder', classes=('a', 'b'), per_class=2, splits=('train',))
    folder = ImageFolder(data_root=str(tmp_path / 'folder'), split='train')
    bad = truncate_file(folder.get_data_info(3)['img_path'], keep=0.3)
    with pytest.raises(UnreadableFileError, match=f'unreadable image: {bad}: OSError'):
        folder[3]
    from PIL import Image
    png = tmp_path / 'folder' / 'train' / 'a' / 'a_9.png'
    Image.fromarray(class_images([0], 2, channels_last=True)[0]).save(png)
    truncate_file(png)
    folder = ImageFolder(data_root=str(tmp_path / 'folder'), split='train')
    index = [folder.get_data_info(i)['img_path'] for i in range(len(folder))].index(str(png))
    with pytest.raises(UnreadableFileError, match=f'unreadable image: {png}: OSError: image file is truncated'):
        folder[index]


def test_image_folder_refuses_an_empty_class_folder(tmp_path):
    write_image_folder(tmp_path, classes=('a', 'b'), per_class=2, splits=('train',))
    empty = tmp_path / 'train' / 'c'
    (empty / 'sub').mkdir(parents=True)
    (empty / 'notes.txt').write_text('no images here')
    with pytest.raises(DataSetError, match=f'class folder {empty} holds no images'):
        ImageFolder(data_root=str(tmp_path), split='train')
    with pytest.raises(DataSetError, match=f'class folder {empty} holds no images'):
        ImageFolder(data_root=str(tmp_path), split='train', classes=('c', 'a'))
    assert len(ImageFolder(data_root=str(tmp_path), split='train', classes=('b', 'a'))) == 4


@pytest.mark.parametrize('line, message', [
    ('3 3', r'image_class_labels.txt, line 3: label \'3\' is not one of the 2 classes \(integers 1..2\)'),
    ('3 0', r'image_class_labels.txt, line 3: label \'0\' is not one of the 2 classes'),
    ('3 two', r'image_class_labels.txt, line 3: label \'two\' is not one of the 2 classes'),
    ('three 1', r'image_class_labels.txt, line 3: expected "<integer id> <value>", got \'three 1\''),
    ('2 1', r'image_class_labels.txt, line 3: id 2 again \(first on line 2\)'),
])
def test_cub200_bad_label_line_is_refused_naming_it(tmp_path, line, message):
    write_cub200(tmp_path, num_classes=2, n_train=1, n_test=1)
    labels = tmp_path / 'CUB_200_2011' / 'image_class_labels.txt'
    rows = labels.read_text().splitlines()
    rows[2] = line
    labels.write_text('\n'.join(rows) + '\n')
    with pytest.raises(DataSetError, match=message):
        CUB200(data_root=str(tmp_path), split='train')


def test_the_public_image_loader_names_the_file(tmp_path):
    from snl_plugins.cls import load_image
    from snl_plugins.datacheck import UnreadableFileError
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + b'x' * 20)
    with pytest.raises(UnreadableFileError, match=f'unreadable image: {bad}: '):
        load_image(str(bad))
