from __future__ import annotations

import numpy as np
import pytest

from barenet.train import accuracy, classification_report, confusion_matrix, precision_recall_f1
from barenet.train.metrics import mse

Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
Y_PRED = np.array([0, 1, 0, 1, 1, 2, 0, 2, 1, 0])


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(Y_TRUE, Y_PRED, num_classes=4)
    expected = np.array([[2, 1, 0, 0], [0, 2, 0, 0], [1, 1, 2, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64


def test_accuracy_from_labels_and_from_scores():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.6)
    scores = np.eye(4)[Y_PRED] * 3.0 - 1.0
    assert accuracy(Y_TRUE, scores) == pytest.approx(0.6)


def test_precision_recall_f1_by_hand():
    prf = precision_recall_f1(confusion_matrix(Y_TRUE, Y_PRED, 4))
    # class 0: predicted 4 times, 2 right; 3 true, 2 found
    np.testing.assert_allclose(prf["precision"], [2 / 4, 2 / 4, 2 / 2, 0.0])
    np.testing.assert_allclose(prf["recall"], [2 / 3, 2 / 2, 2 / 4, 0.0])
    f1_0 = 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3)
    np.testing.assert_allclose(prf["f1"], [f1_0, 2 / 3, 2 / 3, 0.0])
    np.testing.assert_array_equal(prf["support"], [3, 2, 4, 1])


def test_classes_never_predicted_or_absent_give_zero_not_nan():
    prf = precision_recall_f1(confusion_matrix([0, 0], [0, 0], num_classes=3))
    np.testing.assert_array_equal(prf["precision"], [1, 0, 0])
    np.testing.assert_array_equal(prf["recall"], [1, 0, 0])


def test_classification_report_names_classes():
    rep = classification_report(Y_TRUE, Y_PRED, ["a", "b", "c", "d"])
    assert list(rep["per_class"]) == ["a", "b", "c", "d"]
    assert rep["accuracy"] == pytest.approx(0.6)
    assert rep["per_class"]["c"]["recall"] == pytest.approx(0.5)
    assert rep["confusion_matrix"][2] == [1, 1, 2, 0]


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="3 true labels but 2"):
        accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        confusion_matrix([0, 1, 2], [0, 1, 1], num_classes=2)


def test_mse():
    assert mse(np.array([[1.0], [2.0]]), np.array([1.5, 2.0])) == pytest.approx(0.125)


def test_perplexity_and_bits_per_character_of_a_uniform_guess():
    from barenet.train.metrics import bits_per_character, perplexity

    loss = float(np.log(27))  # a uniform guess over 27 symbols
    assert perplexity(loss) == pytest.approx(27)
    assert bits_per_character(loss) == pytest.approx(np.log2(27))
