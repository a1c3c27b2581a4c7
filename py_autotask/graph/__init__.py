"""GraphQL over the metadata: relationship queries executed by graphql-core over the API or a
sync mirror (extra ``[graphql]``)."""

from __future__ import annotations

from ._source import GraphSource

__all__ = ["GraphSource"]
