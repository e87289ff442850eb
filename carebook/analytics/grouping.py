"""Several GROUP BYs over one set of rows, in one pass where the database can.

The dashboard counts the same rows by day, by provider and by type. On
PostgreSQL one query with GROUPING SETS reads them once; elsewhere each
grouping is a branch of a UNION ALL over the same rows. Either way the rows
come from an ordinary queryset, so its filters are written once.
"""

from collections.abc import Sequence
from datetime import date

from django.db import connection


def group_by_sets(
    rows, sets: Sequence[tuple[str, ...]], function: str, column: str = "*"
) -> list[list[tuple]]:
    """Return, for each set of columns, its groups with `function(column)`.

    `rows` is a `values()` queryset naming every column of `sets`. Each
    group comes back as a tuple of its column values, in the set's order,
    followed by the aggregate.
    """
    quote = connection.ops.quote_name
    columns = list(dict.fromkeys(name for grouping in sets for name in grouping))
    subquery, params = rows.query.sql_with_params()
    aggregate = f"{function}({'*' if column == '*' else quote(column)})"

    if connection.vendor == "postgresql":
        keys = ", ".join(quote(name) for name in columns)
        groupings = ", ".join(
            "(" + ", ".join(quote(name) for name in grouping) + ")" for grouping in sets
        )
        sql = (
            f"SELECT GROUPING({keys}), {keys}, {aggregate} FROM ({subquery}) "
            f"AS grouped_rows GROUP BY GROUPING SETS ({groupings})"
        )
        # GROUPING() sets a bit, first column highest, for each column a
        # row is not grouped by.
        masks = {
            sum(
                1 << (len(columns) - 1 - position)
                for position, name in enumerate(columns)
                if name not in grouping
            ): index
            for index, grouping in enumerate(sets)
        }
    else:
        branches = []
        for index, grouping in enumerate(sets):
            selected = ", ".join(
                quote(name) if name in grouping else "NULL" for name in columns
            )
            group_by = ", ".join(quote(name) for name in grouping)
            branches.append(
                f"SELECT {index}, {selected}, {aggregate} FROM ({subquery}) "
                f"AS grouped_rows GROUP BY {group_by}"
            )
        sql = " UNION ALL ".join(branches)
        params = tuple(params) * len(sets)
        masks = {index: index for index in range(len(sets))}

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()

    results = [[] for _ in sets]
    for marker, *values, total in fetched:
        index = masks[marker]
        by_name = dict(zip(columns, values, strict=True))
        results[index].append((*(by_name[name] for name in sets[index]), total))
    return results


def as_date(value) -> date:
    """Return a day read back from SQL: a date, or SQLite's ISO text."""
    return date.fromisoformat(value) if isinstance(value, str) else value
