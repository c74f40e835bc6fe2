"""Set membership for text columns, at Arrow's speed.

pandas 3 keeps text in Arrow, but `Series.isin(values)` converts `values` element by element before looking
anything up: testing a day's messages against a year of chatroom ids costs seconds, and the cost grows with the
history. Arrow's own hash lookup does the same test in milliseconds, whatever the sizes.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def to_arrow(values) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if isinstance(values, (pd.Series, pd.Index)):
        return (
            pa.array(values.array, from_pandas=True)
            if not isinstance(values.dtype, pd.CategoricalDtype)
            else pa.array(values.astype("str").array, from_pandas=True)
        )
    return pa.array(list(values) if isinstance(values, (set, frozenset)) else values, from_pandas=True)


def is_in(values: pd.Series | pd.Index, known: Collection) -> np.ndarray:
    """`values.isin(known)` as a boolean array (a missing value is never in `known`)."""
    if not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
        return np.asarray(values.isin(known if not isinstance(known, (set, frozenset)) else list(known)))
    left = to_arrow(values)
    right = to_arrow(known)
    if not pa.types.is_string(left.type) and not pa.types.is_large_string(left.type):
        left = left.cast(pa.large_string())
    right = right.cast(left.type) if right.type != left.type else right
    found = pc.is_in(left, value_set=right, skip_nulls=True)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def text_set(values) -> pa.Array:
    """The distinct, non-missing values as Arrow text: a value set to test Arrow columns against."""
    return pc.unique(to_arrow(values).cast(pa.large_string())).drop_null()
