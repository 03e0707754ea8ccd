"""A data set reader's output checked where it enters zsk (``zsk data`` commands, ``zsk build``).

A reader is a plugin's code; what its ``load()`` returns must hold together before anything
indexes with it: one attribute row per class, one predicate per attribute column, a split of
distinct classes, and samples whose classes belong to their split. A reader that breaks this is
refused here with a message naming the reader and its plugin, instead of an ``IndexError`` deep
in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zsk.core.components.interfaces import Dataset
from zsk.core.components.zsl_data import FeatureSample, Sample, ZslData, require_usable
from zsk.registry import ComponentRegistry, UserError, get_registry


def reader_label(name: str, registry: ComponentRegistry | None = None) -> str:
    """``data set 'NAME' (plugin 'P', DIST VERSION)``: the reader and where it came from."""
    entry = (registry or get_registry()).get("dataset", name)
    origin = f"plugin '{entry.plugin}'"
    if entry.version:  # an installed distribution, not a plugin registered in the process
        origin += f", {entry.distribution} {entry.version}"
    return f"data set '{name}' ({origin})"


def read_checked(dataset: Dataset, label: str) -> ZslData:
    """``dataset.load()``, refused unless its output holds together (see the module), then
    refused unless training can use it (:func:`require_usable`). ``label`` names the reader
    (:func:`reader_label`) in the message."""
    data = dataset.load()
    problem = output_problem(data)
    if problem is not None:
        raise UserError(
            f"{label} read {problem}",
            where=str(getattr(data, "root", "")) or None,
            hint="the reader's load() must return a ZslData whose parts agree; this is a bug "
            "in that reader: report it to its plugin's author",
        )
    return require_usable(data)


def output_problem(data: object) -> str | None:
    """What is inconsistent in a reader's output, phrased after "read", or None."""
    if not isinstance(data, ZslData):
        return f"a {type(data).__name__}, not a ZslData"
    return _table_problem(data) or _split_problem(data) or _samples_problem(data)


def _table_problem(data: ZslData) -> str | None:
    attributes = data.attributes
    if not isinstance(attributes, torch.Tensor) or attributes.dim() != 2:
        shape = tuple(attributes.shape) if isinstance(attributes, torch.Tensor) else None
        return (
            f"attributes of shape {shape or type(attributes).__name__}, not (classes, attributes)"
        )
    if not attributes.is_floating_point():
        return f"attributes of dtype {attributes.dtype}, not a floating-point matrix"
    rows, columns = attributes.shape
    if rows != len(data.classes):
        return f"{rows} attribute rows for {len(data.classes)} classes (one row per class)"
    if columns != len(data.predicates):
        return f"{columns} attribute columns for {len(data.predicates)} predicates"
    return None


def _split_problem(data: ZslData) -> str | None:
    count = len(data.classes)
    for name, indices in (("seen", data.seen), ("unseen", data.unseen)):
        wrong = [i for i in indices if not isinstance(i, int) or not 0 <= i < count]
        if wrong:
            return f"{name} class index {wrong[0]!r}, outside 0..{count - 1}"
        if len(set(indices)) != len(indices):
            return f"a {name} class twice"
    both = sorted(set(data.seen) & set(data.unseen))
    if both:
        return f"class '{data.classes[both[0]]}' as both seen and unseen"
    return None


def _samples_problem(data: ZslData) -> str | None:
    rows = len(data.features) if data.features is not None else None
    seen, unseen = set(data.seen), set(data.unseen)
    splits: tuple[tuple[str, Sequence[Sample | FeatureSample], set[int]], ...] = (
        ("train", data.train, seen),
        ("test_seen", data.test_seen, seen),
        ("test_unseen", data.test_unseen, unseen),
    )
    for split, samples, allowed in splits:
        for sample in samples:
            if sample.label not in allowed:
                which = "seen" if allowed is seen else "unseen"
                known = isinstance(sample.label, int) and 0 <= sample.label < len(data.classes)
                named = f"'{data.classes[sample.label]}' " if known else ""
                return (
                    f"a {split} sample of class {named}(index {sample.label!r}), which is not "
                    f"a {which} class"
                )
            if isinstance(sample, FeatureSample) and (rows is None or not 0 <= sample.row < rows):
                return f"a {split} sample at feature row {sample.row}, outside the {rows} rows"
    return None
