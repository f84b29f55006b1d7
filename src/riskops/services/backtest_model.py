"""The champion model in a backtest: as live, it scores every event of its checkpoint (its
features come from the same point-in-time query as the rules'), its score is ``model.score``
for the rules and a floor under the decision score.

The model is today's champion: when it was trained on part of the replayed range, the
backtest of that part is optimistic (the report says which model scored)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from riskops.core.decisions.schema import MODEL_SCORE
from riskops.core.models.calibration import percent_scores
from riskops.core.rules.sql import quote_ident
from riskops.services.model_serving import Slot


def add_model_scores(con: duckdb.DuckDBPyConnection, slot: Slot) -> None:
    """Add column ``model.score`` (NULL where the model does not apply) to table ``ctx``,
    which holds the model's feature columns and ``payment_method``."""
    served = slot.champion
    assert served is not None
    cols = ", ".join(f"CAST({quote_ident(f)} AS DOUBLE)" for f in served.features)
    where = ""
    if slot.spec.payment_method is not None:
        where = f" WHERE payment_method = '{slot.spec.payment_method}'"
    rows = con.execute(f"SELECT seq, {cols} FROM ctx{where}").fetchnumpy()
    seqs = np.asarray(rows["seq"])
    model = served.model
    if len(seqs):
        # a NULL feature (no such entity on the event) is missing, as live: NaN
        x = np.column_stack(
            [np.ma.filled(np.ma.asarray(rows[k], dtype=np.float64), np.nan) for k in list(rows)[1:]]
        )
        raw = np.asarray(model.booster.predict(x, raw_score=True), dtype=np.float64)
        scores = percent_scores(model.calibration.apply(raw))
    else:
        scores = np.zeros(0, dtype=np.float64)
    table = pa.table({"seq": pa.array(seqs, pa.int64()), "score": pa.array(scores)})
    con.register("model_scores_arrow", table)
    con.execute(
        "CREATE OR REPLACE TABLE ctx AS SELECT ctx.*, ms.score AS "
        f"{quote_ident(MODEL_SCORE)} FROM ctx LEFT JOIN model_scores_arrow ms USING (seq)"
    )
    con.unregister("model_scores_arrow")
