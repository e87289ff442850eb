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
    rows, sets: Sequence[tuple[str, ...]], aggregates: Sequence[tuple[str, str]]
) -> list[list[tuple]]:
    """Return, for each set of columns, its groups with their aggregates.

    `rows` is a `values()` queryset naming every column of `sets` and of
    `aggregates`, which are pairs of an SQL function and a column ("*" for
    every row): `("COUNT", "*")`, `("SUM", "amount")`. Each group comes back
    as a tuple of its column values, in the set's order, followed by the
    aggregates in their order. An empty set gives the one group of all rows.
    """
    quote = connection.ops.quote_name
    columns = list(dict.fromkeys(name for grouping in sets for name in grouping))
    quoted = [quote(name) for name in columns]
    totals = [
        f"{function}({'*' if column == '*' else quote(column)})"
        for function, column in aggregates
    ]
    subquery, params = rows.query.sql_with_params()

    if connection.vendor == "postgresql":
        groupings = ", ".join(
            "(" + ", ".join(quote(name) for name in grouping) + ")" for grouping in sets
        )
        # GROUPING() needs at least one column; without any there is one set.
        marker = f"GROUPING({', '.join(quoted)})" if columns else "0"
        sql = (
            f"SELECT {', '.join([marker, *quoted, *totals])} FROM ({subquery}) "
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
            selected = [
                str(index),
                *(quote(name) if name in grouping else "NULL" for name in columns),
                *totals,
            ]
            group_by = ", ".join(quote(name) for name in grouping)
            branches.append(
                f"SELECT {', '.join(selected)} FROM ({subquery}) AS grouped_rows"
                + (f" GROUP BY {group_by}" if grouping else "")
            )
        sql = " UNION ALL ".join(branches)
        params = tuple(params) * len(sets)
        masks = {index: index for index in range(len(sets))}

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()

    results = [[] for _ in sets]
    for marker, *values in fetched:
        index = masks[marker]
        by_name = dict(zip(columns, values[: len(columns)], strict=True))
        keys = (by_name[name] for name in sets[index])
        results[index].append((*keys, *values[len(columns) :]))
    return results


def as_date(value) -> date:
    """Return a day read back from SQL: a date, or SQLite's ISO text."""
    return date.fromisoformat(value) if isinstance(value, str) else value
