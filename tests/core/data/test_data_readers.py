"""The awa2 and image_folder readers: attributes, split, held-out share, file:line errors."""

import numpy as np
import pytest
from PIL import Image

from zsk.plugins.builtin.datasets.image_folders import Awa2, ImageFolder
from zsk.registry import UserError, get_registry

CLASSES = ["zebra", "horse", "whale", "dolphin"]
PREDICATES = ["stripes", "hooves", "swims"]
MATRIX = [[80.0, 90.0, 0.0], [5.0, 95.0, 0.0], [0.0, 0.0, 100.0], [10.0, 0.0, 60.0]]


def _image(path, shade):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), (shade, 0, 0)).save(path)


def write_awa2(root, images_per_class=5, seen=("zebra", "whale"), unseen=("horse", "dolphin")):
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{i}\t{c}\n" for i, c in enumerate(CLASSES, 1)))
    (root / "predicates.txt").write_text(
        "".join(f"{i}\t{p}\n" for i, p in enumerate(PREDICATES, 1))
    )
    rows = "".join(" ".join(f"{v:.2f}" for v in row) + "\n" for row in MATRIX)
    (root / "predicate-matrix-continuous.txt").write_text(rows)
    binary = "".join(" ".join(str(int(v >= 50)) for v in row) + "\n" for row in MATRIX)
    (root / "predicate-matrix-binary.txt").write_text(binary)
    (root / "trainclasses.txt").write_text("\n".join(seen) + "\n")
    (root / "testclasses.txt").write_text("\n".join(unseen) + "\n")
    for c, name in enumerate(CLASSES):
        for i in range(images_per_class):
            _image(root / "JPEGImages" / name / f"{name}_{i:04d}.jpg", 40 * c + i)
    return root


def load_awa2(root, **params):
    return Awa2(Awa2.Params(root=str(root), **params)).load()


def test_both_readers_are_registered_components():
    assert get_registry().component("dataset", "awa2") is Awa2
    assert get_registry().component("dataset", "image_folder") is ImageFolder


def test_awa2_reads_classes_attributes_and_split(tmp_path):
    data = load_awa2(write_awa2(tmp_path), seen_test_fraction=0.4)
    assert data.classes == CLASSES and data.predicates == PREDICATES
    assert data.seen == [0, 2] and data.unseen == [1, 3]
    np.testing.assert_allclose(data.attributes.numpy(), np.asarray(MATRIX) / 100, rtol=1e-6)
    assert {s.label for s in data.train} == {0, 2} == {s.label for s in data.test_seen}
    assert len(data.test_seen) == 2 * 2 and len(data.train) == 2 * 3  # round(5 * 0.4) = 2
    assert {s.label for s in data.test_unseen} == {1, 3} and len(data.test_unseen) == 10
    assert not {s.path for s in data.train} & {s.path for s in data.test_seen}


def test_binary_and_l2_scaling(tmp_path):
    root = write_awa2(tmp_path)
    binary = load_awa2(root, matrix="binary").attributes.numpy()
    np.testing.assert_array_equal(binary, (np.asarray(MATRIX) >= 50).astype(np.float32))
    unit = load_awa2(root, rows="l2").attributes.numpy()
    m = np.asarray(MATRIX) / 100
    np.testing.assert_allclose(unit, m / np.sqrt((m**2).sum(1, keepdims=True)), rtol=1e-6)


def test_held_out_share_is_deterministic_and_follows_the_seed(tmp_path):
    root = write_awa2(tmp_path, images_per_class=20)
    first = [s.path for s in load_awa2(root).test_seen]
    assert first == [s.path for s in load_awa2(root).test_seen]
    assert first != [s.path for s in load_awa2(root, split_seed=1).test_seen]
    assert len(first) == 2 * 4


def test_explicit_split_files_replace_the_download_split(tmp_path):
    root = write_awa2(tmp_path)
    (root / "proposed_seen.txt").write_text("horse\nwhale\n")
    (root / "proposed_unseen.txt").write_text("zebra\n")
    data = load_awa2(
        root, seen_classes="proposed_seen.txt", unseen_classes=str(root / "proposed_unseen.txt")
    )
    assert data.seen == [1, 2] and data.unseen == [0]


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (
            lambda r: (r / "testclasses.txt").write_text("horse\nzebra\n"),
            "testclasses.txt:2",
            "both splits",
        ),
        (
            lambda r: (r / "testclasses.txt").write_text("horse\ndolphn\n"),
            "testclasses.txt:2",
            "Did you mean 'dolphin'",
        ),
        (
            lambda r: (r / "predicate-matrix-continuous.txt").write_text("1 2 3\n" * 3),
            "predicate-matrix-continuous.txt",
            "has 3 rows",
        ),
        (
            lambda r: (r / "predicate-matrix-continuous.txt").write_text(
                "1 2 3\n1 2\n1 2 3\n1 2 3\n"
            ),
            "predicate-matrix-continuous.txt:2",
            "row has 2 values",
        ),
        (
            lambda r: (r / "classes.txt").write_text("1\tzebra\n3\thorse\n"),
            "classes.txt:2",
            "out of order",
        ),
        (
            lambda r: (
                [p.unlink() for p in (r / "JPEGImages" / "whale").iterdir()]
                and (r / "JPEGImages" / "whale").rmdir()
            ),
            "JPEGImages/whale",
            "trainclasses.txt:2",
        ),
    ],
    ids=["class-in-both", "unknown-class", "rows", "columns", "index", "folder-missing"],
)
def test_structural_faults_name_file_and_line(tmp_path, change, where, words):
    root = write_awa2(tmp_path)
    change(root)
    with pytest.raises(UserError) as caught:
        load_awa2(root)
    message = caught.value.render()
    assert where in message and words in message


def test_image_folder_reads_csv_with_header(tmp_path):
    root = tmp_path / "own"
    header = "class," + ",".join(PREDICATES)
    rows = [f"{c}," + ",".join(str(v) for v in row) for c, row in zip(CLASSES, MATRIX, strict=True)]
    root.mkdir()
    (root / "attributes.csv").write_text("\n".join([header, *rows]) + "\n")
    (root / "seen.txt").write_text("zebra\nhorse\nwhale\n")
    (root / "unseen.txt").write_text("dolphin\n")
    for c, name in enumerate(CLASSES):
        for i in range(3):
            _image(root / "images" / name / f"{i}.png", 30 * c + i)
    data = ImageFolder(ImageFolder.Params(root=str(root), divide_by=100)).load()
    assert data.classes == CLASSES and data.predicates == PREDICATES
    np.testing.assert_allclose(data.attributes.numpy(), np.asarray(MATRIX) / 100, rtol=1e-6)
    assert data.unseen == [3] and len(data.test_unseen) == 3
    assert len(data.train) + len(data.test_seen) == 9


def test_image_folder_csv_row_of_wrong_length(tmp_path):
    root = tmp_path / "own"
    root.mkdir()
    (root / "attributes.csv").write_text("class,a,b\nx,1,2\ny,1\n")
    with pytest.raises(UserError, match=r"attributes.csv:3.*1 values; the header names 2"):
        ImageFolder(ImageFolder.Params(root=str(root))).load()


def test_a_missing_data_folder_says_how_to_make_one(tmp_path):
    missing = tmp_path / "shapes"
    with pytest.raises(UserError) as error:
        Awa2(Awa2.Params(root=str(missing))).load()
    assert f"data set folder '{missing}' does not exist" in error.value.render()
    assert f"zsk data synth {missing}" in error.value.render()
