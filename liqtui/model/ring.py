"""`RingBuffer`: a fixed-capacity, oldest-first window over rows of one numpy structured dtype.

The store keeps every event stream in one of these, so memory stays the same whatever the run time: a batch
is written with at most two slice assignments, and the oldest rows are overwritten once the ring is full.
`written` counts every row ever written; it never wraps, so readers use it as a data version and to ask for
"the rows since I last looked" (`since`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


class RingBuffer:
    """The last `capacity` rows of a stream, kept in one preallocated structured array."""

    __slots__ = ("_buf", "_capacity", "_head", "_size", "_written", "dtype")

    def __init__(self, dtype: np.dtype[Any], capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a ring needs a capacity of at least 1 row, not {capacity}")
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        """The row type; `extend` accepts arrays of exactly this dtype."""
        self._capacity = int(capacity)
        self._buf: npt.NDArray[Any] = np.zeros(self._capacity, dtype=self.dtype)
        # `_head` is where the next row goes; while the ring is not full it equals `_size`, so the rows are
        # `_buf[:_size]` in order, and once full the oldest row sits at `_head`.
        self._head = 0
        self._size = 0
        self._written = 0

    @property
    def capacity(self) -> int:
        """The most rows the ring holds; older rows are overwritten."""
        return self._capacity

    @property
    def written(self) -> int:
        """Rows ever written (never decreases, not even on `clear`): the ring's data version."""
        return self._written

    @property
    def nbytes(self) -> int:
        """Bytes of row storage, fixed at construction."""
        return self._buf.nbytes

    def __len__(self) -> int:
        return self._size

    def extend(self, rows: npt.NDArray[Any]) -> None:
        """Append `rows` (oldest first). A batch longer than the capacity keeps only its newest rows."""
        if rows.dtype != self.dtype:
            raise TypeError(f"rows of dtype {rows.dtype} cannot go into a ring of {self.dtype}")
        n = rows.shape[0]
        if n == 0:
            return
        cap = self._capacity
        self._written += n
        if n >= cap:
            self._buf[:] = rows[n - cap :]
            self._head = 0
            self._size = cap
            return
        head = self._head
        first = cap - head
        if n <= first:
            self._buf[head : head + n] = rows
        else:
            self._buf[head:] = rows[:first]
            self._buf[: n - first] = rows[first:]
        self._head = (head + n) % cap
        self._size = min(self._size + n, cap)

    def extend_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append row tuples (oldest first), converted by numpy straight into the ring's memory.

        The same as `extend(np.array(rows, dtype))` without the intermediate array: the store's hot path,
        where a batch brings a handful of rows per symbol and a temporary array's fixed cost would dominate.
        """
        n = len(rows)
        if n == 0:
            return
        cap = self._capacity
        if n >= cap:
            self._buf[:] = rows[n - cap :]
            self._head = 0
            self._size = cap
            self._written += n
            return
        head = self._head
        first = cap - head
        if n <= first:
            self._buf[head : head + n] = rows
        else:
            self._buf[head:] = rows[:first]
            self._buf[: n - first] = rows[first:]
        # Counted only once numpy accepted the rows: a malformed row raises and leaves the count unchanged.
        self._written += n
        self._head = (head + n) % cap
        self._size = min(self._size + n, cap)

    def view(self) -> npt.NDArray[Any]:
        """Every row held, oldest first, as a new array (safe to keep while the ring moves on)."""
        return self.last(self._size)

    def last(self, n: int) -> npt.NDArray[Any]:
        """The newest `n` rows (fewer if the ring holds fewer), oldest first, as a new array."""
        n = max(0, min(int(n), self._size))
        start = self._head - n
        if start >= 0:
            return self._buf[start : self._head].copy()
        return np.concatenate((self._buf[start + self._capacity :], self._buf[: self._head]))

    def since(self, written: int) -> npt.NDArray[Any]:
        """The rows written after the ring's `written` count was `written`, oldest first.

        Rows that were already overwritten are gone: at most `len(self)` rows come back.
        """
        return self.last(self._written - written)

    def clear(self) -> None:
        """Forget every row; `written` keeps counting so versions stay monotonic."""
        self._head = 0
        self._size = 0
