"""CUB-200-2011 and SUN Attribute in their download layouts, and the benchmark files' proposed
split applied to image folders; each written tiny in its exact layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from zsk.core.data.folder_formats import load_folder
from zsk.plugins.builtin.datasets.benchmarks import Cub, SunAttribute
from zsk.plugins.builtin.datasets.image_folders import ImageFolder
from zsk.registry import UserError
from zsk.testing.xlsa17 import image_name, mat_cells, write_xlsa17

CUB_NAMES = [
    "001.Black_footed_Albatross",
    "002.Laysan_Albatross",
    "003.Sooty_Albatross",
    "004.Groove_billed_Ani",
    "005.Crested_Auklet",
    "006.Least_Auklet",
]
PREDICATES = ["has_bill_shape::curved_(up_or_down)", "has_wing_color::blue", "has_size::small"]


def _image(path: Path, shade: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 0, 0)).save(path)


def write_cub(top: Path, per_class: int = 6) -> tuple[Path, np.ndarray]:
    """The CUB_200_2011 archive's layout: attributes.txt beside the CUB_200_2011 folder."""
    root = top / "CUB_200_2011"
    (root / "attributes").mkdir(parents=True)
    (root / "classes.txt").write_text(
        "".join(f"{i} {name}\n" for i, name in enumerate(CUB_NAMES, 1))
    )
    images, labels = [], []
    for c, name in enumerate(CUB_NAMES):
        for k in range(per_class):
            sample = c * per_class + k
            images.append(image_name(name, sample))
            labels.append(c + 1)
            _image(root / "images" / images[-1], sample)
    (root / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in enumerate(images, 1)))
    (root / "image_class_labels.txt").write_text(
        "".join(f"{i} {c}\n" for i, c in enumerate(labels, 1))
    )
    (root / "train_test_split.txt").write_text(
        "".join(f"{i} {i % 2}\n" for i in range(1, len(images) + 1))
    )
    matrix = np.random.default_rng(0).uniform(0, 100, (len(CUB_NAMES), len(PREDICATES)))
    (root / "attributes" / "class_attribute_labels_continuous.txt").write_text(
        "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in matrix)
    )
    (top / "attributes.txt").write_text(
        "".join(f"{i} {name}\n" for i, name in enumerate(PREDICATES, 1))
    )
    (root / "trainvalclasses.txt").write_text("\n".join(CUB_NAMES[:4]) + "\n")
    (root / "testclasses.txt").write_text("\n".join(CUB_NAMES[4:]) + "\n")
    return root, np.round(matrix, 6)


def test_cub_layout_is_read_and_found_before_awa2(tmp_path):
    root, matrix = write_cub(tmp_path)
    name, data = load_folder(root)
    assert name == "cub"
    assert data.classes == CUB_NAMES and data.predicates == PREDICATES
    scaled = matrix / 100
    expected = scaled / np.linalg.norm(scaled, axis=1, keepdims=True)
    np.testing.assert_allclose(data.attributes.numpy(), expected, rtol=1e-5)
    assert (data.seen, data.unseen) == ([0, 1, 2, 3], [4, 5])
    assert len(data.test_unseen) == 12
    assert len(data.train) + len(data.test_seen) == 24
    first = min(data.train + data.test_seen, key=lambda s: s.path)
    assert first.path == root / "images" / CUB_NAMES[0] / "0000.jpg" and first.label == 0


def test_cub_without_attribute_names_numbers_them(tmp_path):
    root, _ = write_cub(tmp_path)
    (tmp_path / "attributes.txt").unlink()
    data = Cub(Cub.Params(root=str(root))).load()
    assert data.predicates == ["a1", "a2", "a3"]


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("image_class_labels.txt", "1 7\n", "class 7 is not in classes.txt (1..6)"),
        ("image_class_labels.txt", "37 1\n", "image 37 is not in images.txt (1..36)"),
        ("image_class_labels.txt", "1 1\n", "image 1 is labelled twice"),
        ("image_class_labels.txt", "one 1\n", "expected 'ID ID'"),
    ],
)
def test_cub_label_faults_name_file_and_line(tmp_path, file, text, message):
    root, _ = write_cub(tmp_path)
    with open(root / file, "a") as handle:
        handle.write(text)
    with pytest.raises(UserError) as error:
        Cub(Cub.Params(root=str(root))).load()
    assert message in error.value.render() and f"{file}:37" in error.value.render()


def test_cub_missing_image_is_named(tmp_path):
    root, _ = write_cub(tmp_path)
    (root / "images" / image_name(CUB_NAMES[5], 35)).unlink()
    with pytest.raises(UserError) as error:
        Cub(Cub.Params(root=str(root))).load()
    assert "0035.jpg" in error.value.render() and "images.txt" in error.value.render()


def test_cub_matrix_of_wrong_shape(tmp_path):
    root, _ = write_cub(tmp_path)
    path = root / "attributes" / "class_attribute_labels_continuous.txt"
    path.write_text(path.read_text() + "1 2 3\n")
    with pytest.raises(UserError, match="has 7 rows; .*classes.txt lists 6 classes"):
        Cub(Cub.Params(root=str(root))).load()


def write_sun(root: Path) -> tuple[list[str], np.ndarray]:
    """SUNAttributeDB's three MAT files and the images folder of SUNAttributeDB_Images."""
    images = [
        "a/abbey/sun_aaabbb.jpg",
        "a/abbey/sun_aaaccc.jpg",
        "a/apartment_building/outdoor/sun_abcdef.jpg",
        "a/apartment_building/outdoor/sun_abcxyz.jpg",
        "b/bakery/shop/sun_bbbaaa.jpg",
        "b/beach/sun_bbbccc.jpg",
    ]
    root.mkdir(parents=True)
    for i, image in enumerate(images):
        _image(root / "images" / image, i)
    labels = np.random.default_rng(1).choice([0.0, 1 / 3, 2 / 3, 1.0], (len(images), 4))
    scipy.io.savemat(root / "images.mat", {"images": mat_cells(images)})
    scipy.io.savemat(root / "attributes.mat", {"attributes": mat_cells(["sailing", "x", "y", "z"])})
    scipy.io.savemat(root / "attributeLabels_continuous.mat", {"labels_cv": labels})
    return images, labels


def test_sun_attribute_classes_and_mean_attributes(tmp_path):
    root = tmp_path / "SUNAttributeDB"
    _, labels = write_sun(root)
    (root / "trainvalclasses.txt").write_text("abbey\napartment_building_outdoor\nbeach\n")
    (root / "testclasses.txt").write_text("bakery_shop\n")
    name, data = load_folder(root)
    assert name == "sun_attribute"
    assert data.classes == ["abbey", "apartment_building_outdoor", "bakery_shop", "beach"]
    assert data.predicates == ["sailing", "x", "y", "z"]
    means = np.stack([labels[0:2].mean(0), labels[2:4].mean(0), labels[4], labels[5]])
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    expected = means / np.where(norms > 0, norms, 1)
    np.testing.assert_allclose(data.attributes.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert [s.path for s in data.test_unseen] == [root / "images/b/bakery/shop/sun_bbbaaa.jpg"]
    raw = SunAttribute(SunAttribute.Params(root=str(root), rows="none")).load()
    np.testing.assert_allclose(raw.attributes.numpy(), means, rtol=1e-5)


def test_sun_labels_of_wrong_shape(tmp_path):
    root = tmp_path / "SUNAttributeDB"
    write_sun(root)
    scipy.io.savemat(root / "attributeLabels_continuous.mat", {"labels_cv": np.zeros((5, 4))})
    with pytest.raises(UserError, match=r"'labels_cv' has shape \(5, 4\); .* ask for \(6, 4\)"):
        SunAttribute(SunAttribute.Params(root=str(root))).load()


def write_image_folder(root: Path, tiny, images_of=None) -> None:
    """An image_folder data set holding the images the tiny benchmark files name."""
    root.mkdir(parents=True, exist_ok=True)
    header = "class," + ",".join(f"p{i}" for i in range(4)) + "\n"
    rows = "".join(f"{name},1,0,0.5,0.25\n" for name in tiny.classes)
    (root / "attributes.csv").write_text(header + rows)
    for sample, label in enumerate(tiny.labels.astype(int) - 1):
        _image(root / "images" / image_name(tiny.classes[label], sample), sample)


def _split(data) -> dict[str, list[int]]:
    """Each split's sample numbers (from the file names)."""
    return {
        split: sorted(int(s.path.stem) for s in getattr(data, split))
        for split in ("train", "test_seen", "test_unseen")
    }


def test_xlsa17_split_sorts_an_image_folders_images(tmp_path):
    tiny = write_xlsa17(tmp_path / "xlsa17")
    root = tmp_path / "own"
    write_image_folder(root, tiny)
    (root / "images" / "class01" / "extra.jpg").write_bytes(b"")  # in no list: left out
    data = ImageFolder(ImageFolder.Params(root=str(root), xlsa17=str(tmp_path / "xlsa17"))).load()
    locs = tiny.variables
    assert _split(data) == {
        "train": sorted(locs["trainval_loc"].ravel().astype(int) - 1),
        "test_seen": sorted(locs["test_seen_loc"].ravel().astype(int) - 1),
        "test_unseen": sorted(locs["test_unseen_loc"].ravel().astype(int) - 1),
    }
    assert (data.seen, data.unseen) == (tiny.seen, tiny.unseen)
    assert data.validation_classes == tiny.validation
    for sample in data.train + data.test_seen + data.test_unseen:
        assert sample.label == int(tiny.labels[int(sample.path.stem)]) - 1


def test_xlsa17_split_of_cub_images(tmp_path):
    tiny = write_xlsa17(tmp_path / "xlsa17", names=CUB_NAMES)
    root, _ = write_cub(tmp_path)
    data = Cub(Cub.Params(root=str(root), xlsa17=str(tmp_path / "xlsa17"))).load()
    assert len(data.train) == len(tiny.variables["trainval_loc"])
    assert sorted(int(s.path.stem) for s in data.test_unseen) == sorted(
        tiny.variables["test_unseen_loc"].ravel().astype(int) - 1
    )


def _split_fault(tmp_path, change) -> str:
    tiny = write_xlsa17(tmp_path / "xlsa17")
    root = tmp_path / "own"
    write_image_folder(root, tiny)
    change(root, tiny)
    with pytest.raises(UserError) as error:
        ImageFolder(ImageFolder.Params(root=str(root), xlsa17=str(tmp_path / "xlsa17"))).load()
    return error.value.render()


def test_xlsa17_split_with_a_missing_image(tmp_path):
    def remove(root, tiny):
        (root / "images" / image_name("class05", 24)).unlink()

    text = _split_fault(tmp_path, remove)
    assert "1 images of the benchmark's split are not in the data set" in text
    assert "class05/0024.jpg" in text


def test_xlsa17_split_with_an_image_in_another_class(tmp_path):
    def move(root, tiny):
        (root / "images" / image_name("class01", 0)).rename(
            root / "images" / "class02" / "0000.jpg"
        )

    text = _split_fault(tmp_path, move)  # matched by class folder and file name
    assert "are not in the data set" in text and "class01/0000.jpg" in text


def test_xlsa17_split_with_another_class_name(tmp_path):
    def rename(root, tiny):
        table = root / "attributes.csv"
        table.write_text(table.read_text().replace("class06", "owl"))
        (root / "images" / "class06").rename(root / "images" / "owl")

    text = _split_fault(tmp_path, rename)
    assert "class 'class06' of the benchmark files is not a class of the data set" in text


def test_xlsa17_split_of_region_samples_is_refused(tmp_path):
    tiny = write_xlsa17(tmp_path / "xlsa17")
    files = [f"/data/VOC/JPEGImages/{image_name('x', i // 2)}" for i in range(len(tiny.labels))]
    scipy.io.savemat(
        tmp_path / "xlsa17" / "res101.mat",
        {
            "features": tiny.features,
            "labels": tiny.labels.reshape(-1, 1),
            "image_files": mat_cells(files),
        },
    )
    root = tmp_path / "own"
    write_image_folder(root, tiny)
    with pytest.raises(UserError, match="name the same image file"):
        ImageFolder(ImageFolder.Params(root=str(root), xlsa17=str(tmp_path / "xlsa17"))).load()


APY_CLASSES = ["aeroplane", "bicycle", "bird", "donkey", "goat"]


def write_apy(src: Path) -> dict[str, list[tuple[str, str, tuple, list[int]]]]:
    """The aPY download: attribute_data/, VOCdevkit/VOC2008/JPEGImages/, ayahoo_test_images/."""
    data = src / "attribute_data"
    data.mkdir(parents=True)
    (data / "class_names.txt").write_text("\n".join(APY_CLASSES) + "\n")
    (data / "attribute_names.txt").write_text("2D Boxy\nWing\nTail\n")
    objects = {
        "apascal_train": [
            ("2008_000001.jpg", "aeroplane", (1, 1, 10, 6), [1, 1, 0]),
            ("2008_000001.jpg", "bird", (5, 3, 12, 12), [0, 1, 1]),
            ("2008_000002.jpg", "bicycle", (2, 2, 9, 9), [1, 0, 0]),
        ],
        "apascal_test": [("2008_000003.jpg", "aeroplane", (3, 3, 16, 12), [1, 0, 1])],
        "ayahoo_test": [
            ("donkey_1.jpg", "donkey", (1, 1, 8, 8), [0, 0, 1]),
            ("goat_7.jpg", "goat", (2, 4, 6, 9), [0, 0, 0]),
        ],
    }
    for source, rows in objects.items():
        folder = "ayahoo_test_images" if source == "ayahoo_test" else "VOCdevkit/VOC2008/JPEGImages"
        lines = []
        for image, cls, box, values in rows:
            (src / folder).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 12), (0, 80, 0)).save(src / folder / image, format="JPEG")
            lines.append(f"{image} {cls} {' '.join(map(str, box))} {' '.join(map(str, values))}")
        (data / f"{source}.txt").write_text("\n".join(lines) + "\n")
    return objects


def test_apy_objects_become_an_image_folder(tmp_path):
    from click.testing import CliRunner

    from zsk.core.cli.main import cli

    objects = write_apy(tmp_path / "aPY")
    out = tmp_path / "aPY-objects"
    result = CliRunner().invoke(cli, ["data", "apy", str(tmp_path / "aPY"), str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 6 object images of 5 classes" in result.output
    crop = Image.open(out / "images" / "bird" / "apascal_train-00002.jpg")
    assert crop.size == (8, 10)  # x 5..12, y 3..12, inclusive
    name, data = load_folder(out)
    assert name == "image_folder"
    assert [data.classes[c] for c in data.seen] == ["aeroplane", "bicycle", "bird"]
    assert [data.classes[c] for c in data.unseen] == ["donkey", "goat"]
    assert data.predicates == ["2D Boxy", "Wing", "Tail"]
    aeroplanes = [
        values for rows in objects.values() for _, c, _, values in rows if c == "aeroplane"
    ]
    row = data.attributes[data.classes.index("aeroplane")].numpy()
    np.testing.assert_allclose(row, np.mean(aeroplanes, axis=0))
    again = CliRunner().invoke(cli, ["data", "apy", str(tmp_path / "aPY"), str(out)])
    assert again.exit_code == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x.jpg owl 1 1 2 2 0 0 0", "class 'owl' is not in class_names.txt"),
        ("x.jpg goat 1 1 2 2 0 0", "has 8 fields"),
        ("x.jpg goat 5 1 2 2 0 0 0", "is empty or outside the image"),
        ("missing.jpg goat 1 1 2 2 0 0 0", "not found"),
        ("goat_7.jpg goat 40 40 50 50 0 0 0", "lies outside the 16×12 image"),
    ],
)
def test_apy_faults_exit_2_with_file_and_line(tmp_path, line, message):
    from click.testing import CliRunner

    from zsk.core.cli.main import cli

    write_apy(tmp_path / "aPY")
    with open(tmp_path / "aPY" / "attribute_data" / "ayahoo_test.txt", "a") as handle:
        handle.write(line + "\n")
    result = CliRunner().invoke(cli, ["data", "apy", str(tmp_path / "aPY"), str(tmp_path / "o")])
    assert result.exit_code == 2 and message in result.output


def test_xlsa17_split_of_awa2_images_without_class_lists(tmp_path):
    """AwA2's layout with the proposed split from the benchmark files: no class lists needed."""
    from zsk.plugins.builtin.datasets.image_folders import Awa2

    names = ["antelope", "grizzly+bear", "killer+whale", "beaver", "dalmatian", "persian+cat"]
    tiny = write_xlsa17(tmp_path / "xlsa17", names=names)
    root = tmp_path / "Animals_with_Attributes2"
    root.mkdir()
    (root / "classes.txt").write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(names, 1)))
    (root / "predicates.txt").write_text("1\tblack\n2\twhite\n")
    (root / "predicate-matrix-continuous.txt").write_text("50 25\n" * len(names))
    for sample, label in enumerate(tiny.labels.astype(int) - 1):
        _image(root / "JPEGImages" / image_name(names[label], sample), sample)
    data = Awa2(Awa2.Params(root=str(root), xlsa17=str(tmp_path / "xlsa17"))).load()
    assert [data.classes[c] for c in data.unseen] == names[4:]
    assert _split(data)["test_seen"] == sorted(tiny.variables["test_seen_loc"].ravel() - 1)
    assert data.validation_classes == tiny.validation
