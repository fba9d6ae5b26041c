"""SQL expressions with bound parameters: how adapters and client keys (pipelines.ingest.pii)
describe a column as SQL without ever pasting a file's text into it.

`E("nullif(trim({}), '')", cell)` fills each `{}` with another expression, a bound parameter
(`P(value)`) or a fixed SQL snippet; the parameters travel with the SQL in order.
"""

from __future__ import annotations

from dataclasses import dataclass


class P:
    """A bound parameter inside an expression template."""

    def __init__(self, value: object) -> None:
        self.value = value


@dataclass(frozen=True)
class Expr:
    """A SQL expression and the parameters its `?` placeholders bind, in order."""

    sql: str
    params: tuple = ()


NULL = Expr("cast(null as varchar)")


def E(template: str, *args: Expr | P | str) -> Expr:
    """Fill each `{}` of template with an Expr, a parameter (P) or a fixed SQL snippet."""
    parts = template.split("{}")
    if len(parts) != len(args) + 1:
        raise ValueError(f"template {template!r} needs {len(parts) - 1} arguments")
    sql, params = [parts[0]], []
    for arg, rest in zip(args, parts[1:], strict=True):
        if isinstance(arg, Expr):
            sql.append(arg.sql)
            params.extend(arg.params)
        elif isinstance(arg, P):
            sql.append("?")
            params.append(arg.value)
        else:
            sql.append(arg)
        sql.append(rest)
    return Expr("".join(sql), tuple(params))


def lit(value: str | None) -> Expr:
    return NULL if value is None else Expr("cast(? as varchar)", (value,))


def blank(expr: Expr) -> Expr:
    """Trimmed text, NULL when blank."""
    return E("nullif(trim({}), '')", expr)
