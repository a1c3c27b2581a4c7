"""The public surfaces of ``py_autotask.caching`` and ``py_autotask.validation``."""

from __future__ import annotations

import pytest

import py_autotask.caching as caching
import py_autotask.validation as validation

pytestmark = pytest.mark.xdist_group("validation")


def test_exported_members() -> None:
    assert set(caching.__all__) == {
        "AsyncCacheControl",
        "AsyncTenantMetadataProvider",
        "CacheBackend",
        "CacheConfig",
        "CacheControl",
        "CacheStats",
        "DiskBackend",
        "EntityStats",
        "MemoryBackend",
        "RedisBackend",
        "ResponseCache",
        "TenantMetadataProvider",
        "WarmReport",
    }
    assert set(validation.__all__) == {
        "AsyncPicklists",
        "AsyncValidator",
        "AutotaskInputError",
        "FieldValidator",
        "Picklists",
        "UdfValue",
        "ValidationConfig",
        "ValidationContext",
        "Validator",
        "ValidatorFunc",
        "format_wire_datetime",
        "localize",
        "udf_values",
    }
    for module in (caching, validation):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def test_metadata_provider_implements_the_tenant_metadata_protocol() -> None:
    from py_autotask._config import Credentials
    from py_autotask._core import ApiRequest, ApiResponse, ClientCore
    from py_autotask._validation import TenantMetadata

    core = ClientCore(Credentials("u@example.com", "s", "c", "https://x/ATServicesRest/V1.0/"))

    def send(request: ApiRequest) -> ApiResponse:  # the wire shape of an empty field list
        return ApiResponse(200, {}, b'{"fields": []}', core.prepare(request))

    provider: TenantMetadata = caching.TenantMetadataProvider(core, send)
    assert provider.picklist_values("Tickets", "status") is None
    assert provider.udf_names("Tickets") == frozenset()


def test_wire_datetimes_have_four_digit_years() -> None:
    """strftime's %Y wrote the year 999 as "999": the server could not read the filter, and
    ``export --date-range 0999-01-01T00:00:00,2000-01-01`` failed with HTTP 500 (found by the CLI
    fuzz test)."""
    from datetime import datetime, timezone

    from py_autotask._values import parse_datetime
    from py_autotask.validation import format_wire_datetime

    for when in (datetime(999, 1, 1), datetime(1, 2, 3, 4, 5, 6, 789000), datetime(2024, 5, 31)):
        text = format_wire_datetime(when)
        assert text[:4] == f"{when.year:04d}" and text.endswith("Z")
        assert parse_datetime(text) == when.replace(tzinfo=timezone.utc)
    assert format_wire_datetime(datetime(999, 1, 1)) == "0999-01-01T00:00:00.000Z"
