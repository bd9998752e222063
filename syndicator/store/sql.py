"""SQL constructs that each store runs in its own best form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class OneOf(ColumnElement[bool]):
    """``column`` is one of the list bound as ``name`` when the statement runs.

    SQLite gets an expanding ``IN`` (a placeholder per value). PostgreSQL gets ``= ANY`` of one
    array parameter, so the statement's text is the same however many values there are:
    psycopg converts it once and the server prepares it once, where each length of ``IN`` list
    was a new statement to convert, parse and plan (the deliverer's rounds, ``bench/rounds.py``:
    13 µs of its CPU per delivery).
    """

    inherit_cache = True
    type = Boolean()
    # A condition already: no "= 1" appended where booleans are integers (SQLite), which
    # kept SQLite from answering the IN from the primary key.
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's cache reads it from the class)
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


@compiles(OneOf)
def _expanding_in(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(OneOf, "postgresql")
def _any_of_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(values), **kw)


def is_constant(column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    """``column = 'value'`` with the value written into the statement, not bound. A partial
    index whose condition names the value (PostgreSQL's due index) serves every plan the
    server keeps for the statement; a bound value proves nothing to a plan made for any value.
    Only for the code's own vocabulary: the value is quoted, not escaped."""
    if "'" in value or "\\" in value:
        raise ValueError(f"not a constant to write into a statement: {value!r}")
    return column == literal_column(f"'{value}'", String)


class InsertRows:
    """Inserting a batch of rows into ``table``, in one statement on PostgreSQL.

    PostgreSQL gets ``INSERT ... SELECT FROM unnest(...)`` of one array parameter per column:
    one statement to bind, run and convert however many rows, where an executemany ran the
    insert once per row (the attempt log of a round of 256 deliveries: 256 statements).
    SQLite gets the executemany: a row there is a step of one prepared statement.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.each = insert(table)
        arrays = func.unnest(
            *(bindparam(name, type_=ARRAY(table.c[name].type)) for name in self.columns)
        )
        unnested = arrays.table_valued(*self.columns).render_derived()
        self.unnest = insert(table).from_select(
            self.columns, select(*(unnested.c[name] for name in self.columns))
        )

    def __call__(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if connection.dialect.name == "postgresql":
            connection.execute(
                self.unnest, {name: [row[name] for row in rows] for name in self.columns}
            )
        else:
            connection.execute(self.each, rows)
