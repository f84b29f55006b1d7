"""The compiled booster gives LightGBM's own raw scores, missing values and zeros included."""

from __future__ import annotations

import math

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from riskops.core.models.trees import Unsupported, compile_booster, row_values  # noqa: E402


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4000, 6))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[rng.random(x.shape) < 0.1] = 0.0
    signal = np.nan_to_num(x[:, 0]) + np.isnan(x[:, 1]) + (x[:, 2] == 0)
    y = (signal + rng.normal(size=len(x)) > 1.2).astype(float)
    return x, y


@pytest.mark.parametrize(
    "extra",
    [{}, {"zero_as_missing": True}, {"use_missing": False}, {"num_leaves": 63}],
    ids=["nan-missing", "zero-missing", "no-missing", "deep"],
)
def test_compiled_equals_lightgbm(extra: dict[str, object]) -> None:
    x, y = _data(3)
    params = {"objective": "binary", "num_iterations": 60, "verbosity": -1, "seed": 1, **extra}
    booster = lgb.train(params, lgb.Dataset(x, y))
    score = compile_booster(booster.dump_model())
    expected = booster.predict(x[:1500], raw_score=True)
    got = np.array([score(list(row)) for row in x[:1500]])
    assert np.allclose(got, expected, rtol=0, atol=1e-9)
    assert np.unique(np.round(got, 6)).size > 10  # the trees really split


def test_categorical_split_is_refused() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(2000, 2)).astype(float)
    y = (x[:, 0] == 3).astype(float)
    data = lgb.Dataset(x, y, categorical_feature=[0])
    booster = lgb.train({"objective": "binary", "num_iterations": 5, "verbosity": -1}, data)
    with pytest.raises(Unsupported, match="categorical"):
        compile_booster(booster.dump_model())


def test_not_a_dump() -> None:
    with pytest.raises(Unsupported, match="tree_info"):
        compile_booster({"name": "x"})


def test_row_values_reads_the_context_like_training() -> None:
    values = row_values(["a", "b", "c", "d", "e"], {"a": 3, "b": True, "c": None, "d": "x"})
    assert values[:2] == [3.0, 1.0]
    assert all(math.isnan(v) for v in values[2:])


def test_linear_trees_are_refused() -> None:
    x, y = _data(5)
    x = np.nan_to_num(x)
    params = {"objective": "binary", "num_iterations": 5, "verbosity": -1, "linear_tree": True}
    booster = lgb.train(params, lgb.Dataset(x, y))
    with pytest.raises(Unsupported, match="linear"):
        compile_booster(booster.dump_model())


def test_path_contributions_add_up_to_the_raw_score_and_name_the_signal() -> None:
    from riskops.core.models.trees import compile_contributions

    x, y = _data(7)
    params = {"objective": "binary", "num_iterations": 60, "verbosity": -1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(x, y))
    score = compile_booster(booster.dump_model())
    explain = compile_contributions(booster.dump_model())
    rows = x[:300]
    contributions = np.array([explain(list(r)) for r in rows])
    raw = np.array([score(list(r)) for r in rows])
    assert contributions.shape == (300, 7)  # six features and the bias
    assert np.allclose(contributions.sum(axis=1), raw, atol=1e-9)
    # feature 0 carries the label's signal: it moves the scores most overall
    assert np.abs(contributions[:, :-1]).mean(axis=0).argmax() == 0


def test_model_checkpoints_are_those_of_the_served_models() -> None:
    from riskops.core.decisions.schema import MODEL_CHECKPOINTS
    from riskops.core.models.features import MODELS, spec_problems

    served = [m.checkpoint for m in MODELS.values() if m.serve]
    assert len(served) == len(set(served))  # one served model per checkpoint: model.score
    assert set(served) == MODEL_CHECKPOINTS
    assert not MODELS["return_risk"].serve
    for spec in MODELS.values():
        assert spec_problems(spec) == [], spec.name
