"""The input pipeline: uint8 batches normalised on the device, seeded augmentation that is the
same whatever the worker count, persistent workers and the decoder (CPU workers or the
device path, here on the CPU), and synthetic batches made on the device."""

import random

import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from cnnexplorer.train import data, gpu_input

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def jpeg_dir(tmp_path_factory):
    """An ImageFolder of JPEGs of assorted sizes (noise: every pixel tells)."""
    root = tmp_path_factory.mktemp("jpegs")
    rng = random.Random(0)
    for split, count in (("train", 6), ("val", 2)):
        for name in ("a", "b"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                size = (rng.randint(90, 140), rng.randint(70, 120))
                noise = torch.randint(0, 256, (size[1], size[0], 3), generator=torch.Generator().manual_seed(index))
                Image.fromarray(noise.to(torch.uint8).numpy()).save(folder / f"{index}.jpg", quality=85)
    return root


def _old_float_transform(image_size: int):
    """The workers' transform before this change: uint8 augmentation, then float and normalise."""
    return v2.Compose(
        [*data.train_transform(image_size).transforms, v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)]
    )


@pytest.mark.parametrize("image_size", [32, 96])
def test_uint8_normalised_on_the_device_equals_the_old_float_transform(jpeg_dir, image_size):
    files = data.ImageFiles(jpeg_dir / "train", ["a", "b"])
    old = data.SeededTransform(files, _old_float_transform(image_size), seed=3)
    new = data.SeededTransform(files, data.train_transform(image_size), seed=3)
    for key in [(1, 0), (2, 5), (1, 11)]:
        expected, _ = old[key]
        images, _ = new[key]
        assert images.dtype == torch.uint8
        assert torch.equal(gpu_input.normalize(images[None])[0], expected)
        assert torch.equal(gpu_input.images_to_device(images[None], torch.device("cpu"), False)[0], expected)


def _epoch_batches(dataset, workers: int, epochs=(1, 2), collate=None):
    sampler = data.ResumableSampler(dataset, 1, 0, seed=5, batch_size=4)
    loader = data.make_loader(dataset, sampler, 4, workers, False, seed=5, collate_fn=collate)
    seen = {}
    for epoch in epochs:
        sampler.set_epoch(epoch)
        seen[epoch] = list(loader)
    return seen


def test_persistent_workers_see_each_epochs_images_and_augment_them_as_one_process_does(jpeg_dir):
    dataset = data.SeededTransform(data.ImageFiles(jpeg_dir / "train", ["a", "b"]), data.train_transform(96), seed=5)
    alone = _epoch_batches(dataset, workers=0)
    pooled = _epoch_batches(dataset, workers=2)
    for epoch in (1, 2):
        assert len(alone[epoch]) == len(pooled[epoch]) == 3
        for (images_a, targets_a), (images_b, targets_b) in zip(alone[epoch], pooled[epoch]):
            assert torch.equal(targets_a, targets_b) and torch.equal(images_a, images_b)
    # The order is DistributedSampler's, epoch by epoch, and the augmentation follows the epoch.
    orders = {}
    for epoch in (1, 2):
        reference = torch.utils.data.DistributedSampler(dataset, 1, 0, shuffle=True, seed=5)
        reference.set_epoch(epoch)
        orders[epoch] = list(reference)
        targets = torch.cat([targets for _, targets in pooled[epoch]]).tolist()
        assert targets == [dataset.base.samples[index][1] for index in orders[epoch]]
    first_image = {epoch: orders[epoch].index(0) for epoch in (1, 2)}
    by_epoch = [torch.cat([images for images, _ in pooled[epoch]])[first_image[epoch]] for epoch in (1, 2)]
    assert not torch.equal(by_epoch[0], by_epoch[1])  # image 0 augmented anew in epoch 2


def test_the_device_path_draws_the_parameters_the_workers_path_applies(jpeg_dir):
    """draw_params + apply_params on the decoded image equals torchvision's own Compose under the
    same seed: the same crop box, flip and jitter (the workers' CPU path is that Compose)."""
    files = data.ImageFiles(jpeg_dir / "train", ["a", "b"])
    for image_size in (32, 96):
        transform = data.train_transform(image_size)
        cpu_path = data.SeededTransform(files, transform, seed=9)
        device_path = gpu_input.EncodedImages(files, transform, seed=9)
        for key in [(1, 0), (1, 7), (3, 4)]:
            expected, _ = cpu_path[key]
            sample = device_path[key]
            pil = data._load_rgb(sample.path)
            assert (pil.height, pil.width) == gpu_input._image_size(sample.path)
            steps = gpu_input.transform_steps(transform)
            again = gpu_input.apply_params(steps, sample.params, v2.functional.pil_to_tensor(pil))
            assert torch.equal(again, expected)


def test_the_device_decoder_on_the_cpu_matches_the_workers_within_one_level(jpeg_dir):
    """The batched path (decode_jpeg, per-image crop, batched flip and jitter) against the
    workers' path: same geometry; pixels differ at most by the jitter's rounding."""
    files = data.ImageFiles(jpeg_dir / "train", ["a", "b"])
    transform = data.train_transform(96)
    keys = [(2, index) for index in range(12)]
    cpu_path = data.SeededTransform(files, transform, seed=1)
    batch = gpu_input.collate_encoded([gpu_input.EncodedImages(files, transform, seed=1)[key] for key in keys])
    decoded = gpu_input.DeviceDecoder(transform, torch.device("cpu"))(batch)
    expected = torch.stack([cpu_path[key][0] for key in keys])
    assert decoded.shape == expected.shape == (12, 3, 96, 96)
    difference = (decoded.int() - expected.int()).abs()
    assert difference.max() <= 1 and (difference == 0).float().mean() > 0.99


def test_batched_colour_jitter_is_torchvisions_within_one_level():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 20, 24), dtype=torch.uint8)
    jitter = v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)
    params = [jitter.make_params([images[i]]) for i in range(16)]
    expected = torch.stack([jitter.transform(images[i], params[i]) for i in range(16)])
    plain = [gpu_input._plain(p) for p in params]
    got = gpu_input.jitter_batch(images.clone(), plain)
    assert (got.int() - expected.int()).abs().max() <= 1


def test_resumed_device_decoding_gives_the_same_batches(jpeg_dir):
    """Mid-epoch, the rest of the epoch's batches are those of an uninterrupted epoch."""
    files = data.ImageFiles(jpeg_dir / "train", ["a", "b"])
    dataset = gpu_input.EncodedImages(files, data.train_transform(64 + 8), seed=2)
    decoder = gpu_input.DeviceDecoder(data.train_transform(72), torch.device("cpu"))
    sampler = data.ResumableSampler(dataset, 1, 0, seed=2, batch_size=4)
    loader = data.make_loader(dataset, sampler, 4, 2, False, seed=2, collate_fn=gpu_input.collate_encoded)
    sampler.set_epoch(3)
    whole = [decoder(batch) for batch in loader]
    sampler.set_epoch(3, skip_batches=1)
    rest = [decoder(batch) for batch in loader]
    assert len(whole) == 3 and all(torch.equal(a, b) for a, b in zip(whole[1:], rest, strict=True))


def test_the_decoder_choice():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert gpu_input.choose_decoder("auto", "imagefolder", cpu, ["a.jpg"])[0] == "cpu"
    assert gpu_input.choose_decoder("auto", "imagefolder", cuda, ["a.jpg", "b.JPEG"])[0] == "gpu"
    decode, why = gpu_input.choose_decoder("auto", "imagefolder", cuda, ["a.jpg", "b.png"])
    assert decode == "cpu" and "b.png" in why
    assert gpu_input.choose_decoder("gpu", "imagefolder", cpu, ["b.png"])[0] == "gpu"
    assert gpu_input.choose_decoder("auto", "cifar10", cuda, None)[0] == "cpu"
    from cnnexplorer.errors import UsageError

    with pytest.raises(UsageError, match="--decode gpu reads JPEG files"):
        gpu_input.choose_decoder("gpu", "fake", cuda, None)


def test_a_png_under_a_jpeg_name_is_decoded_on_the_cpu(tmp_path):
    Image.new("RGB", (50, 40), (10, 200, 30)).save(tmp_path / "odd.png")
    (tmp_path / "odd.jpg").write_bytes((tmp_path / "odd.png").read_bytes())
    Image.new("RGB", (50, 40), (10, 200, 30)).save(tmp_path / "fine.jpg")
    transform = data.eval_transform(32)
    files = data.ImageFiles.__new__(data.ImageFiles)
    files.classes, files.transform = ["x"], None
    files.samples = [(str(tmp_path / "odd.jpg"), 0), (str(tmp_path / "fine.jpg"), 0)]
    dataset = gpu_input.EncodedImages(files, transform, seed=0)
    decoder = gpu_input.DeviceDecoder(transform, torch.device("cpu"))
    images = decoder(gpu_input.collate_encoded([dataset[0], dataset[1]]))
    assert images.shape == (2, 3, 32, 32) and decoder.fallbacks == 1
    assert images[0, :, 16, 16].tolist() == [10, 200, 30]


def test_synthetic_batches_are_made_on_the_device_the_same_each_time():
    dataset = data.SyntheticImages(40, 16, 10, seed=4)
    sampler = data.ResumableSampler(dataset, 1, 0, seed=4, batch_size=8)
    loader = data.make_loader(dataset, sampler, 8, 0, False, seed=4)
    prepare = gpu_input.preparer_for(dataset, torch.device("cpu"), channels_last=False)
    sampler.set_epoch(1)
    first = [prepare(batch) for batch in loader]
    sampler.set_epoch(1, skip_batches=2)
    resumed = [prepare(batch) for batch in loader]
    assert first[0][0].shape == (8, 3, 16, 16) and first[0][0].dtype == torch.float32
    for (images_a, targets_a), (images_b, targets_b) in zip(first[2:], resumed, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(targets_a, targets_b)
    assert not torch.equal(first[0][0], first[1][0])
