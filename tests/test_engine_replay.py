"""The engine replay benchmark (benchmarks/engine_replay.py) saves every call a run makes,
so that each can be timed on both engines at sizes a whole Spark run cannot reach."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import engine_replay

from linkgraph.engine import LOCAL


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, engine_replay.Recorder]:
    folder = tmp_path_factory.mktemp("calls")
    results: list = []
    recorder = engine_replay.record(ROOT / "data" / "sample", folder, results=results)
    return folder, results, recorder


def test_every_engine_call_of_a_run_is_saved(recorded) -> None:
    _, _, recorder = recorded
    # a call with an argument of a type the recorder cannot save runs unsaved: never replayed
    assert [c["call"] for c in recorder.calls if c.get("unrecorded")] == []
    made = {c["call"] for c in recorder.calls}
    assert {"load_tables", "map_rows", "count_keys", "connected_components",
            "bounded_reach", "labelled_reach", "group_aggregate", "largest_window",
            "window_counts"} <= made
    # as on Spark, the orders come summarised with the load: their quantiles are its own
    assert "group_quantile" not in made


def test_a_saved_call_replayed_gives_the_runs_own_result(recorded) -> None:
    folder, results, _ = recorded
    saved = engine_replay.saved_calls(folder)
    assert len(saved) == len(results)
    replayed = 0
    for (where, meta), result in zip(saved, results, strict=True):
        if meta["call"] == "load_tables":
            continue
        kwargs = engine_replay.arguments(where, meta)
        assert engine_replay.equal(result, getattr(LOCAL, meta["call"])(**kwargs)), where
        replayed += 1
    assert replayed >= 10


def test_results_differing_in_dtype_or_value_are_not_equal() -> None:
    a = np.array([1, 2], dtype=np.int64)
    assert engine_replay.equal((a, {"x": a}), (a.copy(), {"x": a.copy()}))
    assert not engine_replay.equal(a, a.astype(np.int32))
    assert not engine_replay.equal((a,), (np.array([1, 3]),))
    assert engine_replay.equal(np.array([np.nan]), np.array([np.nan]))
