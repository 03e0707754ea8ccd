"""The report's crop: choice of the main animal, the crop box, weights, and the model path."""

import pytest
from PIL import Image

from zsk.core.data.crop import (
    WEIGHTS_FILE,
    Detection,
    build_detector,
    crop_box,
    crop_dataset,
    find_weights,
    main_object,
)
from zsk.registry import UserError

PERSON, CAR, DOG, ZEBRA = 1, 3, 18, 24


def test_largest_confident_animal_wins_over_larger_or_surer_others():
    detections = [
        Detection((0, 0, 90, 90), PERSON, 0.99),
        Detection((10, 10, 30, 30), DOG, 0.9),
        Detection((40, 40, 80, 70), ZEBRA, 0.8),
        Detection((0, 0, 100, 100), ZEBRA, 0.3),  # large but not confident
    ]
    assert main_object(detections, 0.5) == detections[2]


def test_without_animals_the_largest_confident_object_then_nothing():
    detections = [Detection((0, 0, 10, 10), CAR, 0.9), Detection((0, 0, 50, 20), PERSON, 0.6)]
    assert main_object(detections, 0.5) == detections[1]
    assert main_object(detections, 0.95) is None
    assert main_object([], 0.5) is None


def test_crop_is_a_square_with_margin_around_the_box():
    # box 40×20 centred at (100, 80); side = 40 * (1 + 2 * 0.25) = 60
    assert crop_box(300, 200, (80, 70, 120, 90), 0.25) == (70, 50, 130, 110)


def test_crop_is_shifted_inside_and_cut_to_the_image():
    assert crop_box(100, 100, (0, 0, 20, 20), 0.5) == (0, 0, 40, 40)  # shifted right/down
    assert crop_box(100, 50, (10, 5, 90, 45), 0.1) == (2, 0, 98, 50)  # side 96 > height 50


def test_centre_crop_without_a_detection():
    assert crop_box(120, 80, None, 0.1) == (20, 0, 100, 80)
    assert crop_box(50, 90, None, 0.1) == (0, 20, 50, 70)


def test_missing_weights_say_which_file_goes_where(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError) as caught:
        find_weights(None)
    message = caught.value.render()
    assert WEIGHTS_FILE in message and str(tmp_path / "hub" / "checkpoints") in message
    with pytest.raises(UserError, match="not found"):
        find_weights(tmp_path / "nope.pth")
    cached = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert find_weights(None) == cached


def test_wrong_weights_are_a_user_error(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(UserError, match="not Mask R-CNN"):
        build_detector(path, min_size=32)


def test_crop_dataset_runs_the_model_and_keeps_the_layout(tmp_path):
    import torch

    torch.manual_seed(0)
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "JPEGImages" / "zebra").mkdir(parents=True)
    (src / "classes.txt").write_text("1\tzebra\n")
    for i, size in enumerate([(40, 30), (24, 36)]):
        Image.new("RGB", size, (200, 10 * i, 0)).save(src / "JPEGImages" / "zebra" / f"{i}.jpg")
    (src / "JPEGImages" / "zebra" / "broken.jpg").write_bytes(b"junk")
    # random weights (whatever it finds, or nothing); few proposals keep the test quick
    small = {"rpn_pre_nms_top_n_test": 20, "rpn_post_nms_top_n_test": 10}
    model = build_detector(None, min_size=32, box_detections_per_img=5, **small)
    result = crop_dataset(src, out, model, min_score=0.0, batch_size=2)
    assert (out / "classes.txt").read_text() == "1\tzebra\n"
    assert result.written == 2 and [p.name for p in result.skipped] == ["broken.jpg"]
    for i, (w, h) in enumerate([(40, 30), (24, 36)]):
        cropped = Image.open(out / "JPEGImages" / "zebra" / f"{i}.jpg")
        assert cropped.format == "JPEG" and 1 <= cropped.width <= w and 1 <= cropped.height <= h
    assert not (out / "JPEGImages" / "zebra" / "broken.jpg").exists()
    with pytest.raises(UserError, match="outside the source"):
        crop_dataset(src, src / "inner", model)
