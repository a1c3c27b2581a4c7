"""PredictiveModel on the simulator's structured tickets: it finds the seeded effects and beats the
median-per-priority baseline on the newest tickets; it says why the seed's "category" cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from py_autotask import AutotaskClient
from py_autotask.analytics import PredictiveModel
from py_autotask.analytics._data import TicketData
from py_autotask.exceptions import AutotaskConfigError
from py_autotask.simulator import Simulator
from py_autotask.simulator._tickets import PRIORITY_STEP


@pytest.fixture(scope="module")
def trained(tickets: TicketData) -> PredictiveModel:
    model = PredictiveModel(tickets)
    model.train_resolution_time_model(verbose=False)
    return model


def test_the_model_beats_the_baseline_on_the_newest_tickets(
    trained: PredictiveModel, capsys: pytest.CaptureFixture[str]
) -> None:
    report = trained.report
    assert report is not None
    assert report.beats_baseline
    assert report.model_mae_hours < 0.9 * report.baseline_mae_hours
    # time-ordered: every held-out ticket is newer than every training ticket
    assert report.holdout_start >= report.data_range[0]
    assert report.holdout == pytest.approx(0.2 * (report.trained_on + report.holdout), abs=1)
    assert "beats the baseline" in str(report)


def test_the_model_recovers_the_seeded_effects(trained: PredictiveModel) -> None:
    # same queue and creation time, rising priority value: the seeded medians grow PRIORITY_STEP-fold
    monday = "2025-11-03T10:00:00"
    hours = [
        trained.predict_resolution_time({"priority": p, "createDate": monday}).hours
        for p in (2, 3, 5, 6)
    ]
    assert hours == sorted(hours)
    ratio = (hours[-1] / hours[0]) ** (1 / 3)  # per priority step
    assert PRIORITY_STEP / 1.6 < ratio < PRIORITY_STEP * 1.6
    # the weekday effect: business-hours work started on a Friday afternoon spans the weekend
    friday = trained.predict_resolution_time({"priority": 6, "createDate": "2025-11-07T15:00:00"})
    tuesday = trained.predict_resolution_time({"priority": 6, "createDate": "2025-11-04T09:00:00"})
    assert friday.hours > tuesday.hours
    assert friday.low <= friday.hours <= friday.high


def test_the_seed_sketch_fails_saying_why_and_the_trained_client_model_prints(
    sim: Simulator, client: AutotaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    predictor = PredictiveModel(client)
    predictor.train_resolution_time_model()
    printed = capsys.readouterr().out
    assert "baseline (median per priority)" in printed and "mean absolute error" in printed
    with pytest.raises(AutotaskConfigError) as err:
        predictor.predict_resolution_time(ticket_data={"priority": 1, "category": "server_issue"})
    text = str(err.value)
    assert "ticketCategory" in text and "server_issue" in text and "Account management" in text
    # labels work for picklist values; a wrong label lists the valid ones
    by_label = predictor.predict_resolution_time({"priority": "priority 1"})
    by_value = predictor.predict_resolution_time({"priority": 1})
    assert by_label.hours == by_value.hours
    with pytest.raises(AutotaskConfigError, match="priority 3"):
        predictor.predict_resolution_time({"priority": "urgent"})


def test_save_and_load_need_trust(trained: PredictiveModel, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    trained.save(path)
    with pytest.raises(AutotaskConfigError, match="trusted=True"):
        PredictiveModel.load(path)
    loaded = PredictiveModel.load(path, trusted=True)
    ticket = {"priority": 3, "queueID": 5, "createDate": "2025-11-05T11:00:00"}
    assert loaded.predict_resolution_time(ticket) == trained.predict_resolution_time(ticket)
    assert loaded.report == trained.report
    other = tmp_path / "other.joblib"
    other.write_bytes(b"not a model")
    with pytest.raises(Exception):
        PredictiveModel.load(other, trusted=True)


def test_an_untrained_model_says_so() -> None:
    with pytest.raises(AutotaskConfigError, match="train_resolution_time_model"):
        PredictiveModel().predict_resolution_time({"priority": 1})
