"""A study's results file: records kept in order, one per key, readable as JSON Lines."""

from __future__ import annotations

import json

from benchmarks.studies.results import find, put, read


def test_put_appends_new_keys_and_replaces_the_record_of_a_known_one(tmp_path):
    path = tmp_path / "out" / "results.jsonl"
    assert read(path) == []
    put(path, {"set": "a", "seed": 0, "h": 0.1}, ("set", "seed"))
    put(path, {"set": "a", "seed": 1, "h": 0.2}, ("set", "seed"))
    put(path, {"set": "a", "seed": 0, "h": 0.3}, ("set", "seed"))
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"set": "a", "seed": 0, "h": 0.3},
        {"set": "a", "seed": 1, "h": 0.2},
    ]
    assert read(path) == [json.loads(line) for line in lines]


def test_find_matches_every_named_field():
    records = [{"set": "a", "seed": 0}, {"set": "b", "seed": 0}, {"set": "b", "seed": 1}]
    assert find(records, set="b", seed=1) is records[2]
    assert find(records, set="b") is records[1]
    assert find(records, set="c") is None
