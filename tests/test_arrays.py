"""chatsales.arrays.is_in agrees with pandas' isin on text, missing values and other dtypes."""

import numpy as np
import pandas as pd

from chatsales.arrays import is_in


def test_is_in_agrees_with_pandas_on_text_and_missing_values():
    values = pd.Series(["a", "b", None, "c", "a"], dtype="str")
    known = pd.Series(["a", "c", "z"], dtype="str")
    assert is_in(values, known).tolist() == [True, False, False, True, True]
    assert is_in(values, {"b"}).tolist() == [False, True, False, False, False]
    assert is_in(pd.Index(["x", "y"], dtype="str"), ["y"]).tolist() == [False, True]
    assert is_in(pd.Series(["a", None], dtype=object), ["a"]).tolist() == [True, False]
    assert is_in(values, []).tolist() == [False] * 5


def test_is_in_keeps_numbers_and_categories():
    assert is_in(pd.Series([1, 2, 3]), {2, 3}).tolist() == [False, True, True]
    assert is_in(pd.Series(["a", "b"], dtype="category"), ["b"]).tolist() == [False, True]
    assert isinstance(is_in(pd.Series([1]), [1]), np.ndarray)
