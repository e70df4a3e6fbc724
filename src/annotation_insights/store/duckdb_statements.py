"""DuckDB statements parsed once a process, then run by any connection.

DuckDB parses every statement it is handed as text, and its parser is a good part of a
short statement's cost: a 7-day stats answer's statement and its snapshot's `BEGIN` and
`COMMIT` took 5.0 ms as text and 4.1 ms parsed once, and after a few idle seconds, when
the parser's code and tables have left the processor's caches, 64 against 41 ms. The
product runs a fixed set of statements (values are bound parameters, never text), so
each text is parsed the first time it runs, and DuckDB copies the parsed statement for
every later run, on any cursor and thread, of the store and of the batch engine alike.
"""

from __future__ import annotations

import atexit
import threading

import duckdb

from annotation_insights.store.dialect import DUCKDB

# Parsing reads no data and no catalog, so one private connection parses for all.
_parser = duckdb.connect(":memory:")
_parser_lock = threading.Lock()
_parsed: dict[str, duckdb.Statement | str] = {}
# The product runs about a hundred texts (95 over the ingest, metric and stats tests); a
# bound keeps a caller that builds texts from growing this without end.
MAX_STATEMENTS = 2048


@atexit.register
def _close() -> None:
    """Closed while the interpreter is whole (see events/engine.py: `_close`)."""
    with _parser_lock:
        _parser.close()


def statement(sql: str) -> duckdb.Statement | str:
    """`sql` (with `:name` parameters) ready for `execute` or `sql`: parsed, or, if it
    holds other than exactly one statement, the bound text for DuckDB to parse."""
    found = _parsed.get(sql)
    if found is not None:
        return found
    bound = DUCKDB.bind(sql)
    with _parser_lock:
        parsed = _parser.extract_statements(bound)
    found = parsed[0] if len(parsed) == 1 else bound
    if len(_parsed) >= MAX_STATEMENTS:
        _parsed.clear()
    _parsed[sql] = found
    return found
