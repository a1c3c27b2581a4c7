"""A resolution-time model people can check: features known at creation, a time-ordered holdout,
and a baseline it has to beat (the median resolution time per priority).

The model is scikit-learn's ``HistGradientBoostingRegressor`` (absolute error, so a median) on
``log1p(hours)``; the 40 most frequent values of each category are kept, the rest count as missing.
The 10-90 % interval adds the 10 % and 90 % quantiles of the training residuals to the prediction. Only resolved tickets train it; the newest
``holdout`` share of them (by ``createDate``) is kept out and scored: mean absolute error in
calendar hours, the baseline's on the same tickets, and how often the truth fell inside the
interval. Still-open tickets are left out, which biases towards quick tickets near the end of the
data (they are the ones already resolved): the report says how many were left out.

Saving uses joblib (pickle): loading a file runs code from it, so :meth:`PredictiveModel.load`
needs ``trusted=True`` and is meant for files you wrote yourself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import AutotaskConfigError
from ._data import TicketData, load_tickets, load_tickets_async
from ._trends import _require, ticket_measures

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["CATEGORICAL_FEATURES", "ModelReport", "Prediction", "PredictiveModel"]

#: ticket fields used as categories (their values; unseen values count as missing)
CATEGORICAL_FEATURES = ("priority", "queueID", "issueType", "subIssueType", "companyID", "source")
#: derived at creation time
NUMERIC_FEATURES = ("create_hour", "create_weekday", "title_length", "description_length")
_FORMAT = "py-autotask resolution-time model 1"


@dataclass(frozen=True)
class ModelReport:
    """The holdout comparison of a trained model with the baseline (median per priority)."""

    trained_on: int
    holdout: int
    left_out_open: int
    model_mae_hours: float
    baseline_mae_hours: float
    interval_coverage: float
    holdout_start: datetime
    data_range: tuple[datetime, datetime]

    @property
    def beats_baseline(self) -> bool:
        return self.model_mae_hours < self.baseline_mae_hours

    def __str__(self) -> str:
        verdict = (
            f"the model beats the baseline by {1 - self.model_mae_hours / self.baseline_mae_hours:.0%}"
            if self.beats_baseline
            else "the model does NOT beat the baseline: use the median per priority instead"
        )
        return (
            f"resolution-time model: trained on {self.trained_on} resolved tickets, scored on the "
            f"{self.holdout} newest (created from {self.holdout_start:%Y-%m-%d}); "
            f"{self.left_out_open} open tickets left out\n"
            f"  mean absolute error: model {self.model_mae_hours:.1f} h, baseline (median per "
            f"priority) {self.baseline_mae_hours:.1f} h; 10-90 % interval held the truth for "
            f"{self.interval_coverage:.0%}\n  {verdict}"
        )


@dataclass(frozen=True)
class Prediction:
    """An estimated resolution time (median) with its 10-90 % interval, in calendar hours."""

    hours: float
    low: float
    high: float
    assumptions: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.hours:.1f} h (80 % interval {self.low:.1f} - {self.high:.1f} h)"
        return text + "".join(f"; {a}" for a in self.assumptions)


class PredictiveModel:
    """Resolution-time predictions from a source's tickets (a client, a DataFrame or a mirror URL)."""

    def __init__(self, source: Any = None) -> None:
        _require()
        self._source = source
        self._data: TicketData | None = None
        self._models: dict[str, Any] | None = None
        self._categories: dict[str, list[Any]] = {}
        self._baseline: dict[Any, float] = {}
        self._overall = math.nan
        self._labels: dict[str, dict[Any, str]] = {}
        self.report: ModelReport | None = None

    @property
    def data(self) -> TicketData:
        if self._data is None:
            if self._source is None:
                raise AutotaskConfigError(
                    "this model has no data source: pass one to PredictiveModel(...)"
                )
            self._data = load_tickets(self._source)
        return self._data

    async def fetch(self) -> TicketData:
        """Read an async client's tickets (inside a running event loop, before training)."""
        if self._data is None:
            if isinstance(self._source, (str, TicketData)) or not hasattr(self._source, "tickets"):
                self._data = self.data
            else:
                self._data = await load_tickets_async(self._source)
        return self._data

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        out = pd.DataFrame(index=frame.index)
        for name in CATEGORICAL_FEATURES:
            codes = {v: i for i, v in enumerate(self._categories.get(name, []))}
            column = frame[name] if name in frame else pd.Series(None, index=frame.index)
            out[name] = [np.nan if _missing(v) else codes.get(_key(v), np.nan) for v in column]
        created = frame["createDate"]
        out["create_hour"] = created.dt.hour.astype("float64")
        out["create_weekday"] = created.dt.day_of_week.astype("float64")
        for name, field in (("title_length", "title"), ("description_length", "description")):
            text = frame[field] if field in frame else pd.Series("", index=frame.index)
            out[name] = text.fillna("").astype(str).str.len().astype("float64")
        return out

    def train_resolution_time_model(
        self, *, holdout: float = 0.2, verbose: bool = True
    ) -> ModelReport:
        """Train on the older resolved tickets, score on the newest ``holdout`` share, print the
        comparison with the baseline (``verbose``) and return it."""
        import numpy as np

        if not 0.05 <= holdout <= 0.5:
            raise AutotaskConfigError(f"holdout must be a share from 0.05 to 0.5, not {holdout!r}")
        data = self.data
        frame = data.frame
        hours = ticket_measures(frame)["resolution_hours"]
        usable = frame[hours.notna() & (hours >= 0) & frame["createDate"].notna()]
        target = hours[usable.index]
        if len(usable) < 50:
            raise AutotaskConfigError(
                f"only {len(usable)} resolved tickets with a creation time: a resolution-time "
                "model needs at least 50"
            )
        cut = int(len(usable) * (1 - holdout))
        train, test = usable.iloc[:cut], usable.iloc[cut:]
        y_train, y_test = target.iloc[:cut].to_numpy(), target.iloc[cut:].to_numpy()
        self._categories = {
            n: _frequent(train[n]) if n in train else [] for n in CATEGORICAL_FEATURES
        }
        self._labels = data.labels
        x_train, x_test = self._features(train), self._features(test)
        models = self._fit(x_train, np.log1p(y_train))
        self._models = models
        self._overall = float(np.median(y_train))
        self._baseline = (
            {
                _key(p): float(v)
                for p, v in train.assign(h=y_train).groupby("priority")["h"].median().items()
            }
            if "priority" in train
            else {}
        )
        predicted = np.expm1(models["median"].predict(x_test))
        low = np.expm1(models["low"].predict(x_test))
        high = np.expm1(models["high"].predict(x_test))
        base = np.array(
            [
                self._baseline.get(_key(p), self._overall)
                for p in test.get("priority", [None] * len(test))
            ]
        )
        created = frame["createDate"].dropna()
        report = ModelReport(
            trained_on=len(train),
            holdout=len(test),
            left_out_open=int(len(frame) - len(usable)),
            model_mae_hours=float(np.mean(np.abs(predicted - y_test))),
            baseline_mae_hours=float(np.mean(np.abs(base - y_test))),
            interval_coverage=float(np.mean((y_test >= low) & (y_test <= high))),
            holdout_start=test["createDate"].iloc[0].to_pydatetime(),
            data_range=(created.min().to_pydatetime(), created.max().to_pydatetime()),
        )
        self.report = report
        if verbose:
            print(report)
        return report

    @staticmethod
    def _fit(x: pd.DataFrame, y: Any) -> dict[str, Any]:
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingRegressor

        median = HistGradientBoostingRegressor(
            loss="absolute_error",
            categorical_features=[n in CATEGORICAL_FEATURES for n in x.columns],
            max_iter=80,
            max_leaf_nodes=15,
            learning_rate=0.15,
            random_state=0,
        ).fit(x, y)
        residuals = y - median.predict(x)
        low, high = np.quantile(residuals, [0.1, 0.9])
        return {
            "median": median,
            "low": _Shifted(median, float(low)),
            "high": _Shifted(median, float(high)),
        }

    def predict_resolution_time(self, ticket_data: dict[str, Any]) -> Prediction:
        """Estimate a new ticket's resolution time from the fields known at creation (API field
        names; picklist labels are accepted for picklist values)."""
        import numpy as np
        import pandas as pd

        if self._models is None:
            raise AutotaskConfigError(
                "the model is not trained: call train_resolution_time_model() (or load a saved one) first"
            )
        known = {*CATEGORICAL_FEATURES, "createDate", "title", "description"}
        unknown = [k for k in ticket_data if k not in known]
        if unknown:
            raise AutotaskConfigError(_unknown_message(unknown, ticket_data, self._labels))
        row: dict[str, Any] = {}
        assumptions: list[str] = []
        for name in CATEGORICAL_FEATURES:
            value = ticket_data.get(name)
            if value is not None:
                value = self._value_of(name, value)
                if _key(value) not in self._categories.get(name, []):
                    assumptions.append(
                        f"{name} {value!r} was not seen in training (treated as unknown)"
                    )
            row[name] = value
        created = ticket_data.get("createDate")
        if created is None:
            created = datetime.now(timezone.utc)
            assumptions.append(f"created now ({created:%a %H:%M} UTC)")
        row["createDate"] = (
            pd.Timestamp(created).tz_localize("UTC")
            if pd.Timestamp(created).tzinfo is None
            else pd.Timestamp(created)
        )
        row["title"] = ticket_data.get("title") or ""
        row["description"] = ticket_data.get("description") or ""
        frame = pd.DataFrame([row])
        frame["createDate"] = pd.to_datetime(frame["createDate"], utc=True)
        x = self._features(frame)
        hours = float(np.expm1(self._models["median"].predict(x))[0])
        low = float(np.expm1(self._models["low"].predict(x))[0])
        high = float(np.expm1(self._models["high"].predict(x))[0])
        low, high = min(low, hours), max(high, hours)
        return Prediction(max(hours, 0.0), max(low, 0.0), high, tuple(assumptions))

    def _value_of(self, name: str, value: Any) -> Any:
        labels = self._labels.get(name) or {}
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            for raw, label in labels.items():
                if label.lower() == value.lower() and not isinstance(raw, str):
                    return raw
            choices = sorted({lbl for lbl in labels.values()})
            raise AutotaskConfigError(
                f"{name} {value!r} is not a value or label of this tenant's {name}"
                + (f": choose from {', '.join(choices[:20])}" if choices else "")
            )
        return _key(value)

    def figure(self) -> Figure:
        """The holdout's mean absolute error, model vs baseline (one bar chart)."""
        from matplotlib.figure import Figure

        if self.report is None:
            raise AutotaskConfigError("train the model first: train_resolution_time_model()")
        fig = Figure(figsize=(5, 2.6), layout="constrained")
        ax = fig.add_subplot()
        names = ["model", "baseline\n(median per priority)"]
        values = [self.report.model_mae_hours, self.report.baseline_mae_hours]
        ax.barh(names, values, color=["#2a7", "#999"])
        ax.set_xlabel("mean absolute error on the holdout (hours)")
        ax.set_title(f"resolution time, {self.report.holdout} newest resolved tickets", fontsize=9)
        return fig

    def save(self, path: str | Path) -> None:
        """Write the trained model (joblib, i.e. pickle: see :meth:`load` for the trust model)."""
        import joblib

        if self._models is None:
            raise AutotaskConfigError("nothing to save: train the model first")
        state = {
            "format": _FORMAT,
            "models": self._models,
            "categories": self._categories,
            "baseline": self._baseline,
            "overall": self._overall,
            "labels": self._labels,
            "report": self.report,
        }
        joblib.dump(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, trusted: bool = False) -> PredictiveModel:
        """Read a model written by :meth:`save`. The file is a pickle: loading it runs code from it,
        so only load files you (or someone you trust) wrote, and say so with ``trusted=True``."""
        import joblib

        if not trusted:
            raise AutotaskConfigError(
                f"{path}: a saved model is a pickle, and loading one runs code from it; load only "
                "files you wrote yourself and pass trusted=True to say so"
            )
        state = joblib.load(Path(path))
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise AutotaskConfigError(f"{path} is not a model saved by PredictiveModel.save()")
        model = cls()
        model._models = state["models"]
        model._categories = state["categories"]
        model._baseline = state["baseline"]
        model._overall = state["overall"]
        model._labels = state["labels"]
        model.report = state["report"]
        return model


@dataclass(frozen=True)
class _Shifted:
    """A quantile of the prediction: the median model's output plus a residual quantile (log scale)."""

    base: Any
    shift: float

    def predict(self, x: Any) -> Any:
        return self.base.predict(x) + self.shift


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NA
    except (TypeError, ValueError):
        return False


def _frequent(column: pd.Series, limit: int = 40) -> list[Any]:
    """The ``limit`` most frequent values (the rest count as missing: rare values teach little and
    cost training time)."""
    counts = column.dropna().map(_key).value_counts()
    return sorted(counts.index[:limit].tolist(), key=str)


def _key(value: Any) -> Any:
    """One spelling per picklist/id value: 3, 3.0 and "3" are the same value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating) and float(value).is_integer():
            return int(value)
    except ImportError:  # pragma: no cover
        pass
    return value


def _unknown_message(
    unknown: list[str], ticket_data: dict[str, Any], labels: dict[str, dict[Any, str]]
) -> str:
    parts = []
    for name in unknown:
        if name.lower() in ("category", "ticket_category", "ticketcategory"):
            values = sorted(set((labels.get("ticketCategory") or {}).values()))
            shown = f" (this tenant's: {', '.join(values[:12])})" if values else ""
            parts.append(
                f"{name!r} is not a ticket field: Autotask's is ticketCategory, a picklist{shown}, "
                f"and {ticket_data[name]!r} is none of its values; it is not a model feature either, "
                "because a category is a form layout chosen per ticket type, not a description of the work"
            )
        else:
            parts.append(f"{name!r} is not a feature of this model")
    features = ", ".join([*CATEGORICAL_FEATURES, "createDate", "title", "description"])
    return "; ".join(parts) + f". The model uses: {features}"
