"""Simulator configuration: credentials, limits and the behaviours that are UNCONFIRMED upstream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_INTEGRATION_CODE",
    "DEFAULT_SECRET",
    "DEFAULT_USERNAME",
    "ApiUser",
    "SimulatorConfig",
]

DEFAULT_USERNAME = "api.user@simulator.autotask.example"
DEFAULT_SECRET = "simulator-secret-0001"
DEFAULT_INTEGRATION_CODE = "SIMULATORTRACKINGID00000001"  # 27 characters like real identifiers


@dataclass(frozen=True)
class ApiUser:
    """An API-only user: ``resource_id`` is recorded as creator on creates."""

    username: str
    secret: str
    resource_id: int = 29682885


@dataclass
class SimulatorConfig:
    """Every knob of the simulated tenant. Defaults mirror documented Autotask behaviour; the
    ones marked UNCONFIRMED in docs/simulator.md are guesses you can change here."""

    users: list[ApiUser] = field(
        default_factory=lambda: [ApiUser(DEFAULT_USERNAME, DEFAULT_SECRET)]
    )
    integration_codes: list[str] = field(default_factory=lambda: [DEFAULT_INTEGRATION_CODE])

    # -- auth error statuses ------------------------------------------------------------------
    unknown_user_status: int = 500  # reliability doc: invalid username -> 500
    bad_secret_status: int = 401
    bad_integration_code_status: int = 500

    # -- errors ---------------------------------------------------------------------------------
    validation_status: int = 500  # Autotask answers business/validation errors with 500 + errors[]
    missing_item_status: int = (
        200  # GET of an unknown id: 200 {"item": null} (404 is the other option)
    )
    html_not_found: bool = False  # True: unknown routes answer with an IIS-like HTML 404

    # -- queries and paging ---------------------------------------------------------------------
    max_records: int = 500
    max_or_conditions: int = 500
    next_page_method: Literal["same", "any"] = "same"

    # -- limits ---------------------------------------------------------------------------------
    thread_limit: int = 3  # concurrent requests per (integration code, endpoint); 0 disables
    thread_limit_status: int = 429
    hourly_threshold: int = 10_000  # externalRequestThreshold per database; 0 disables
    threshold_timeframe_minutes: int = 60
    usage_latency: tuple[tuple[float, float], ...] = ((0.5, 0.5), (0.75, 1.0))
    budget_exceeded_status: int = 429
    retry_after_seconds: int | None = None  # Retry-After on 429s (Autotask sends none documented)
    attachment_max_file_bytes: int = 7_000_000
    attachment_window_bytes: int = 10_000_000
    attachment_window_seconds: float = 300.0

    # -- clock ------------------------------------------------------------------------------------
    time_scale: float = 1.0  # virtual seconds per real second

    # -- identity of the simulated zone -----------------------------------------------------------
    zone_name: str = "Simulator Zone"
    web_url: str = "https://ww.simulator.autotask.example/"
    ci: int = 1
    api_versions: tuple[str, ...] = ("1.0",)
    app_version: tuple[int, int, int] = (2026, 1, 0)
    public_base_url: str | None = None  # override the Host-derived .../ATServicesRest/ base

    # -- store ------------------------------------------------------------------------------------
    db_path: str | None = None  # None: a temporary file; ":memory:" for small in-memory stores
    first_id: int = 1
    journal_max_entries: int = 50_000  # oldest request journal entries are dropped beyond this
    change_feed_max_events: int = 100_000
    snapshot_max_rows: int = (
        100_000  # reset() restores an in-memory copy up to this size, else re-seeds
    )

    # -- seed data ----------------------------------------------------------------------------------
    # fraction (0..1) of seeded records per collection that carry the off-type values real tenants
    # send (a ZIP code as a number, "m" in an integer picklist, "" for a datetime ...; UNCONFIRMED,
    # see docs/simulator.md "Messy data"); deterministic by seed, 0 = clean data
    messy: float = 0.0

    # -- fault / latency RNG ----------------------------------------------------------------------
    fault_seed: int = 0

    # -- webhook callouts (reference section 13; times are virtual seconds) -------------------------
    webhook_delivery: bool = True  # False: callouts are computed and journaled, never sent
    webhook_timeout_seconds: float = 10.0
    webhook_retry_seconds: float = 30.0
    webhook_max_attempts: int = 5
    webhook_deactivate_after: int = 25  # consecutive failed events before isActive goes false
    # a real receiver's latency does not shrink with time_scale: never time out faster than this
    webhook_min_real_timeout: float = 2.0
    webhook_delay_seconds: float = 0.0  # fault: extra delay before an event's first attempt
    webhook_duplicate: float = 0.0  # fault: probability a delivered event is sent again
    webhook_out_of_order: float = 0.0  # fault: probability an event is sent after its successor
    webhook_drop: float = 0.0  # fault: probability an event is lost without any attempt
    webhook_sign: Literal["dotnet", "raw"] = "dotnet"  # what X-Hook-Signature is computed over
    webhook_ci_entity_type: str = "ConfigurationItem"  # EntityType of CIs (or "InstalledProduct")
    webhook_journal_max: int = 100_000

    def user(self, username: str | None) -> ApiUser | None:
        if not username:
            return None
        low = username.strip().lower()
        for u in self.users:
            if u.username.lower() == low:
                return u
        return None
