"""Path converters that keep what no database can hold out of queries."""

from django.urls import register_converter

# The largest key a 64-bit integer column holds, on SQLite and PostgreSQL.
MAX_ID = 2**63 - 1


class IdConverter:
    """A row's numeric key: digits within a 64-bit integer, else no match."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(value)
        return number

    def to_url(self, value: int) -> str:
        return str(value)


class ReferenceConverter:
    """A booking reference: letters and digits only."""

    regex = "[0-9A-Za-z]{1,16}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IdConverter, "id")
register_converter(ReferenceConverter, "reference")
