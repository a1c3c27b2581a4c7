"""GraphQL over the metadata: relationship queries executed by graphql-core over the API or a
sync mirror (extra ``[graphql]``). See docs/graphql.md.

>>> from py_autotask.query import GraphQLQuery                            # doctest: +SKIP
>>> result = GraphQLQuery(client).execute_sync('{ ticket(id: 1) { title company { name } } }')  # doctest: +SKIP
"""

from __future__ import annotations

from ._exec import Estimate, GraphQLQueryError, GraphResult, Record
from ._query import GraphQLQuery
from ._schema import sdl
from ._source import GraphSource

__all__ = [
    "Estimate",
    "GraphQLQuery",
    "GraphQLQueryError",
    "GraphResult",
    "GraphSource",
    "Record",
    "sdl",
]
