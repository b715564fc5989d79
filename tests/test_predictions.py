"""Kaggle-style validation of predictions.csv, and that its messages never carry labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contracts.predictions import canonical_id, class_index, validate_predictions

IDS = [f"tx{i:03d}" for i in range(20)]
# Class names that would be unmistakable if they leaked into a message.
CLASSES = ["zebra-positive-label", "yak-negative-label"]


def write(tmp_path: Path, text: str, name: str = "predictions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def binary_csv(rows: list[tuple[str, str, str]], header: str = "tx_id,score,label") -> str:
    return header + "\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)


def good_rows() -> list[tuple[str, str, str]]:
    return [(i, f"{k / 20:.2f}", CLASSES[k % 2]) for k, i in enumerate(IDS)]


def check(path: Path | None, **kwargs):
    options = {
        "task_type": "binary_classification",
        "id_column": "tx_id",
        "expected_ids": IDS,
        "classes": CLASSES,
    }
    options.update(kwargs)
    return validate_predictions(path, **options)


def assert_label_safe(result) -> None:
    text = result.summary() + " ".join(result.errors + result.warnings)
    for name in CLASSES:
        assert name not in text
        assert name.split("-")[0] not in text


def test_valid_file_is_aligned_to_the_expected_ids(tmp_path):
    rows = good_rows()[::-1]  # shuffled order in the file
    result = check(write(tmp_path, binary_csv(rows)))
    assert result.ok, result.errors
    assert result.n_rows == result.n_expected == 20
    np.testing.assert_allclose(result.values["score"], [k / 20 for k in range(20)])
    assert result.values["label"].tolist() == [k % 2 for k in range(20)]
    assert "valid" in result.summary()


def test_missing_file(tmp_path):
    result = check(tmp_path / "nope.csv")
    assert not result.ok and result.errors == ["no predictions file was written"]
    assert not check(None).ok


def test_size_cap(tmp_path):
    result = check(write(tmp_path, binary_csv(good_rows())), max_bytes=100)
    assert not result.ok and "larger than 100 bytes" in result.errors[0]


def test_empty_and_unparseable(tmp_path):
    assert "empty" in check(write(tmp_path, "  \n")).errors[0]
    ragged = "tx_id,score,label\ntx000,0.1,a,extra,more\n"
    assert "not a parseable CSV" in check(write(tmp_path, ragged, "r.csv")).errors[0]


def test_missing_column_names_the_columns(tmp_path):
    result = check(write(tmp_path, "tx_id,score\n" + "".join(f"{i},0.5\n" for i in IDS)))
    assert not result.ok
    assert "missing column(s) ['label']" in result.errors[0]
    assert_label_safe(result)


def test_missing_and_extra_ids_are_counted_with_at_most_three_examples(tmp_path):
    rows = good_rows()[5:] + [("intruder1", "0.5", CLASSES[0]), ("intruder2", "0.5", CLASSES[1])]
    result = check(write(tmp_path, binary_csv(rows)))
    assert not result.ok
    missing = next(e for e in result.errors if "missing" in e)
    assert missing.startswith("5 held-out ids missing of 20")
    assert missing.count("'tx") == 3
    extra = next(e for e in result.errors if "not in the held-out set" in e)
    assert extra.startswith("2 ids") and "intruder1" in extra
    assert_label_safe(result)


def test_duplicate_ids(tmp_path):
    rows = good_rows() + [good_rows()[3], good_rows()[3]]
    result = check(write(tmp_path, binary_csv(rows)))
    assert not result.ok
    assert any(e.startswith("1 id appear") and "tx003" in e for e in result.errors)
    assert_label_safe(result)


@pytest.mark.parametrize(
    ("score", "message"),
    [
        ("abc", "non-numeric or non-finite 'score'"),
        ("inf", "non-numeric or non-finite 'score'"),
        ("nan", "non-numeric or non-finite 'score'"),
        ("", "non-numeric or non-finite 'score'"),
        ("1.5", "outside [0, 1]"),
        ("-0.1", "outside [0, 1]"),
    ],
)
def test_bad_scores(tmp_path, score, message):
    rows = good_rows()
    rows[4] = (rows[4][0], score, rows[4][2])
    result = check(write(tmp_path, binary_csv(rows)))
    assert not result.ok and any(
        e == f"1 row with a {message}" or message in e for e in result.errors
    ), result.errors
    assert_label_safe(result)


def test_labels_outside_the_classes_are_counted_not_echoed(tmp_path):
    rows = good_rows()
    rows[0] = (rows[0][0], "0.1", "walrus")
    rows[1] = (rows[1][0], "0.1", "zebra")  # a prefix of a class is not a class
    result = check(write(tmp_path, binary_csv(rows)))
    assert not result.ok
    assert result.errors == ["2 rows with a 'label' that is not one of the assignment's classes"]
    assert "walrus" not in result.summary()
    assert_label_safe(result)


def test_every_message_is_label_safe(tmp_path):
    bad = [
        binary_csv(good_rows()[:3]),
        binary_csv([(i, "x", "nope") for i in IDS]),
        binary_csv(good_rows(), header="tx_id,score,labels"),
        "tx_id,score,label,score\n",
    ]
    for k, text in enumerate(bad):
        result = check(write(tmp_path, text, f"bad{k}.csv"))
        assert not result.ok
        assert_label_safe(result)


def test_numeric_classes_accept_float_text(tmp_path):
    rows = [(i, "0.5", "1.0" if k % 2 else "0") for k, i in enumerate(IDS)]
    result = check(write(tmp_path, binary_csv(rows)), classes=[0, 1])
    assert result.ok and result.values["label"].tolist() == [k % 2 for k in range(20)]


def test_ids_are_compared_canonically(tmp_path):
    ids = [str(1000 + k) for k in range(5)]
    text = "id,prediction\n" + "".join(f"{float(i)},{k}.5\n" for k, i in enumerate(ids))
    result = validate_predictions(
        write(tmp_path, text),
        task_type="regression",
        id_column="id",
        expected_ids=[int(i) for i in ids],
    )
    assert result.ok, result.errors
    assert result.values["prediction"].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert (
        canonical_id(" 7 ") == "7" and canonical_id("7.0") == "7" and canonical_id("7.5") == "7.5"
    )


def test_regression_rejects_non_finite_predictions(tmp_path):
    text = "id,prediction\n1,0.5\n2,inf\n3,\n"
    result = validate_predictions(
        write(tmp_path, text), task_type="regression", id_column="id", expected_ids=[1, 2, 3]
    )
    assert not result.ok
    assert result.errors == ["2 rows with a non-numeric or non-finite 'prediction'"]


def test_multiclass_needs_label_only(tmp_path):
    classes = ["cat", "dog", "eel"]
    text = "id,label\n1,dog\n2,eel\n3,cat\n"
    result = validate_predictions(
        write(tmp_path, text),
        task_type="multiclass_classification",
        id_column="id",
        expected_ids=[1, 2, 3],
        classes=classes,
    )
    assert result.ok and result.values["label"].tolist() == [1, 2, 0]


def test_extra_columns_are_a_warning(tmp_path):
    text = "tx_id,score,label,notes\n" + "".join(f"{i},0.5,{CLASSES[0]},x\n" for i in IDS)
    result = check(write(tmp_path, text))
    assert result.ok and result.warnings == ["extra column(s) ignored: ['notes']"]


def test_class_index_maps_unknowns_to_minus_one():
    import pandas as pd

    assert class_index(pd.Series(["1", "0", "2", "1.00", "x"]), [0, 1]).tolist() == [
        1,
        0,
        -1,
        1,
        -1,
    ]


def test_ids_from_a_features_file(tmp_path):
    from contracts.predictions import ids_from_csv

    path = write(tmp_path, "tx_id,amount\n7,1.5\n8.0,2\n", "features.csv")
    assert ids_from_csv(path, "tx_id") == ["7", "8"]
    with pytest.raises(ValueError, match="no column 'rid'"):
        ids_from_csv(path, "rid")
