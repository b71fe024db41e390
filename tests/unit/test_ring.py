"""RingBuffer against a plain Python list model: order, wrap-around, bounded length, monotonic `written`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqtui.model.ring import RingBuffer
from liqtui.model.types import MARK_DTYPE, TRADE_DTYPE


def _marks(start: int, n: int) -> np.ndarray:
    """`n` mark rows numbered from `start`, so every row is distinguishable."""
    rows = np.zeros(n, dtype=MARK_DTYPE)
    rows["ts_ms"] = np.arange(start, start + n)
    rows["px"] = np.arange(start, start + n) * 0.5
    return rows


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=17),
    sizes=st.lists(st.integers(min_value=0, max_value=40), max_size=25),
    tail=st.integers(min_value=0, max_value=50),
)
def test_ring_matches_a_list_model(capacity: int, sizes: list[int], tail: int) -> None:
    ring = RingBuffer(MARK_DTYPE, capacity)
    model: list[int] = []
    written_before = 0
    next_id = 0
    for size in sizes:
        version_before = ring.written
        ring.extend(_marks(next_id, size))
        model.extend(range(next_id, next_id + size))
        next_id += size
        model = model[-capacity:]

        assert ring.written == version_before + size >= written_before
        written_before = ring.written
        assert len(ring) == len(model) <= capacity
        view = ring.view()
        assert view["ts_ms"].tolist() == model
        assert view["px"].tolist() == [i * 0.5 for i in model]
        assert ring.last(tail)["ts_ms"].tolist() == (model[-tail:] if tail else [])
        expected_since = model[len(model) - min(size, len(model)) :]
        assert ring.since(version_before)["ts_ms"].tolist() == expected_since
    assert ring.written == next_id


@settings(max_examples=100, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=13),
    sizes=st.lists(st.integers(min_value=0, max_value=30), max_size=20),
)
def test_extend_rows_from_tuples_equals_extend_from_arrays(capacity: int, sizes: list[int]) -> None:
    from_arrays = RingBuffer(MARK_DTYPE, capacity)
    from_tuples = RingBuffer(MARK_DTYPE, capacity)
    next_id = 0
    for size in sizes:
        rows = _marks(next_id, size)
        next_id += size
        from_arrays.extend(rows)
        from_tuples.extend_rows([(int(ts), float(px)) for ts, px in rows.tolist()])
        assert from_tuples.view().tolist() == from_arrays.view().tolist()
        assert (len(from_tuples), from_tuples.written) == (len(from_arrays), from_arrays.written)


def test_view_is_a_copy_that_does_not_move_with_the_ring() -> None:
    ring = RingBuffer(MARK_DTYPE, 4)
    ring.extend(_marks(0, 3))
    kept = ring.view()
    ring.extend(_marks(3, 4))
    assert kept["ts_ms"].tolist() == [0, 1, 2]
    assert ring.view()["ts_ms"].tolist() == [3, 4, 5, 6]


def test_batch_larger_than_capacity_keeps_the_newest_rows() -> None:
    ring = RingBuffer(TRADE_DTYPE, 5)
    ring.extend(np.zeros(2, dtype=TRADE_DTYPE))
    rows = np.zeros(12, dtype=TRADE_DTYPE)
    rows["ts_ms"] = np.arange(12)
    ring.extend(rows)
    assert ring.view()["ts_ms"].tolist() == [7, 8, 9, 10, 11]
    assert ring.written == 14
    ring.extend(rows[:3])
    assert ring.view()["ts_ms"].tolist() == [10, 11, 0, 1, 2]


def test_clear_empties_but_written_keeps_counting() -> None:
    ring = RingBuffer(MARK_DTYPE, 3)
    ring.extend(_marks(0, 5))
    ring.clear()
    assert len(ring) == 0
    assert ring.view().shape == (0,)
    assert ring.written == 5
    ring.extend(_marks(10, 2))
    assert ring.view()["ts_ms"].tolist() == [10, 11]
    assert ring.written == 7


def test_memory_is_fixed_whatever_is_written() -> None:
    ring = RingBuffer(TRADE_DTYPE, 1000)
    size_before = ring.nbytes
    for _ in range(0, 50_000, 777):
        ring.extend(np.zeros(777, dtype=TRADE_DTYPE))
    assert ring.nbytes == size_before == 1000 * TRADE_DTYPE.itemsize
    assert len(ring) == 1000


def test_wrong_dtype_and_capacity_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(MARK_DTYPE, 0)
    ring = RingBuffer(MARK_DTYPE, 3)
    with pytest.raises(TypeError, match="dtype"):
        ring.extend(np.zeros(2, dtype=TRADE_DTYPE))
