"""``kgfm.store.embedded._ints``: Arrow integer columns to int64 numpy from the value buffers
(chunks, slices with offsets, narrower and unsigned types), refusing nulls and non-integers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from kgfm.store.base import StoreError
from kgfm.store.embedded import _ints


def test_chunks_slices_and_widths():
    col = pa.chunked_array([pa.array([5, 6, 7, 8], pa.int64()).slice(1, 2), pa.array([9], pa.int64()),
                            pa.array([], pa.int64())])
    got = _ints(col)
    assert got.dtype == np.int64 and got.tolist() == [6, 7, 9]
    assert _ints(pa.array([1, 2, 300], pa.int16()).slice(1)).tolist() == [2, 300]
    assert _ints(pa.array([0, 2**31], pa.uint32())).tolist() == [0, 2**31]
    assert _ints(pa.chunked_array([], pa.int64())).tolist() == []
    dictionary = pa.array(["b", "a", "b"]).dictionary_encode()
    assert _ints(dictionary.indices).tolist() == [0, 1, 0]


def test_nulls_and_non_integers_are_refused():
    with pytest.raises(StoreError, match="1 nulls"):
        _ints(pa.array([1, None, 3], pa.int64()))
    with pytest.raises(StoreError, match="integer column"):
        _ints(pa.array([1.5]))
