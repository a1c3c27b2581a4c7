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
