from __future__ import annotations

import re

import barenet as bn
from barenet.models import build_model
from barenet.train import summary
from barenet.train.summary import layer_table


def test_rows_flops_and_totals_for_a_small_cnn():
    model = bn.Sequential(
        bn.Conv2d(1, 4, 3, padding=1),
        bn.ReLU(),
        bn.MaxPool2d(2),
        bn.Flatten(),
        bn.Linear(4 * 4 * 4, 10),
    )
    rows = layer_table(model, (1, 8, 8))
    assert [r["output_shape"] for r in rows] == [(4, 8, 8), (4, 8, 8), (4, 4, 4), (64,), (10,)]
    assert rows[0]["flops"] == 2 * 1 * 9 * 4 * 64 and rows[4]["flops"] == 2 * 64 * 10
    assert [r["params"] for r in rows] == [40, 0, 0, 0, 650]
    text = summary(model, (1, 8, 8))
    assert "Total parameters: 690 " in text and "Total FLOPs per image: 5,888 " in text


def test_summary_totals_match_num_parameters_and_leave_the_model_unchanged():
    model = build_model("cnn-res", (3, 16, 16), 5)
    model.train()
    text = summary(model, (3, 16, 16))
    total = int(re.search(r"Total parameters: ([\d,]+)", text).group(1).replace(",", ""))
    assert total == model.num_parameters()
    assert model.training and all("forward" not in m.__dict__ for m in model.modules())
