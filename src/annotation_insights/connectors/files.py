"""Streaming readers for event files in the SPEC §3 schema: NDJSON, CSV and Parquet.

A file is read in blocks, so memory stays bounded whatever its size, and each reader
reports how far it got for the progress bar. An NDJSON or Parquet block comes as Arrow
columns (`events.batch.RAW_SCHEMA`) when it can be read that way without changing its
meaning (`events/ndjson.py`): an order of magnitude faster than parsing line by line.
Every block can also be read as `(row number, raw event)` pairs, which the importer
falls back to for CSV, for a block the columnar reader refused, and for a block with an
invalid event (each bad row is then reported on its own). A row that cannot even be
parsed is yielded as a `RowError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from annotation_insights.events.batch import RAW_SCHEMA, TEXT_FIELDS
from annotation_insights.events.ndjson import ndjson_table

FORMATS = ("ndjson", "csv", "parquet")
_EXTENSIONS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv",
               ".parquet": "parquet", ".pq": "parquet"}
_TRUE, _FALSE = frozenset(("true", "1", "yes", "t", "y")), frozenset(("false", "0", "no", "f", "n"))
BLOCK_BYTES = 64 << 20  # NDJSON read per block (~300,000 events)
# Parquet rows per block. The Parquet import is bound by its writer, which has costs per
# block (the merges of sessions a block shares with the one before it, the commit):
# blocks of 524,288 rows import 10M events ~6% faster than of 262,144, a million no faster.
BLOCK_ROWS = 524_288
CSV_BLOCK_ROWS = 262_144  # held as Python objects until the block is stored
_FIRST_BLOCK = 8  # the first blocks are an eighth, a quarter and half of a full one


def _taking_tail(size: int, left: int) -> int:
    """`size`, or all that is `left` if what would remain after it is under a quarter of
    it: a last block of a few thousand events costs a whole commit's fixed work (the 1M
    Parquet import's 13,164 rows after its 524,288: 0.09-0.19 s), all of it after the
    reading thread has finished."""
    return left if left - size < size // 4 else size


def _block_sizes(full: int) -> Iterator[int]:
    """Small blocks first: the importer stores a block while the next is read, so the
    sooner the first is read, the sooner both cores are busy."""
    size = max(1, full // _FIRST_BLOCK)
    while True:
        yield size
        size = min(full, size * 2)


@dataclass(frozen=True)
class RowError:
    field: str | None
    message: str


@dataclass
class Block:
    """Rows `first_row` to `last_row` of a file: as columns when they could be read that
    way (`table`, else None), and always as `(row number, raw event)` pairs."""

    first_row: int
    last_row: int
    table: pa.Table | None
    rows: Callable[[], Iterator[tuple[int, Any]]]


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared:
        if declared not in FORMATS:
            raise ValueError(f"unknown format {declared!r}: use one of {', '.join(FORMATS)}")
        return declared
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz",)]
    for suffix in reversed(suffixes):
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    raise ValueError(f"cannot tell the format of {path.name} from its extension: "
                     "name it .ndjson, .csv or .parquet, or pass --format")


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read, for progress without `tell()`."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        self.count += n or 0
        return n or 0


class EventFile:
    """One event file; iterate `rows()`; `position`/`total` drive the progress bar."""

    def __init__(self, path: Path, fmt: str, *,
                 csv_record: Callable[[dict], Any] | None = None) -> None:
        self.path = path
        self.format = fmt
        self._csv_record = csv_record or csv_event
        self.position = 0
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetFile(path)
            self.total = self._parquet.metadata.num_rows
            self.unit = "rows"
        else:
            self.total = path.stat().st_size
            self.unit = "bytes"

    def rows(self) -> Iterator[tuple[int, Any]]:
        for block in self.blocks():
            yield from block.rows()

    def blocks(self) -> Iterator[Block]:
        if self.format == "ndjson":
            return self._ndjson_blocks()
        if self.format == "csv":
            return self._csv_blocks()
        return self._parquet_blocks()

    def _ndjson_blocks(self) -> Iterator[Block]:
        number = 0
        with self.path.open("rb") as f:
            for data in _line_blocks(f, _block_sizes(BLOCK_BYTES)):
                self.position += len(data)
                table = ndjson_table(data)
                if table is not None:
                    yield Block(number + 1, number + table.num_rows, table,
                                lambda data=data, first=number: _ndjson_rows(data, first))
                    number += table.num_rows
                    continue
                rows = list(_ndjson_rows(data, number))
                yield Block(number + 1, number + len(rows), None, lambda rows=rows: iter(rows))
                number += len(rows)

    def _csv_blocks(self) -> Iterator[Block]:
        rows: list[tuple[int, Any]] = []
        for row in self._csv():
            rows.append(row)
            if len(rows) == CSV_BLOCK_ROWS:
                yield Block(rows[0][0], rows[-1][0], None, lambda rows=rows: iter(rows))
                rows = []
        if rows:
            yield Block(rows[0][0], rows[-1][0], None, lambda rows=rows: iter(rows))

    def _csv(self) -> Iterator[tuple[int, Any]]:
        with self.path.open("rb") as raw:
            counting = _Counting(raw)
            text = io.TextIOWrapper(io.BufferedReader(counting), encoding="utf-8-sig", newline="")
            reader = csv.DictReader(text)
            for number, record in enumerate(reader, start=1):
                self.position = counting.count
                if None in record:
                    yield number, RowError(None, "has more values than the header has columns")
                    continue
                yield number, self._csv_record(record)
            self.position = counting.count

    def _parquet_blocks(self) -> Iterator[Block]:
        piece = max(1, BLOCK_ROWS // _FIRST_BLOCK)
        number, counts = 0, _block_sizes(_FIRST_BLOCK)  # pieces of an eighth of a block
        pieces = self._parquet.iter_batches(batch_size=piece)
        while True:
            rows = _taking_tail(next(counts) * piece, self.total - number)
            block_pieces = list(itertools.islice(pieces, -(-rows // piece)))
            if not block_pieces:
                return
            batch = pa.Table.from_batches(block_pieces)
            first = number
            number += batch.num_rows
            self.position = number
            yield Block(first + 1, number, _parquet_table(batch),
                        lambda batch=batch, first=first: _parquet_rows(batch, first))


def _line_blocks(f: BinaryIO, sizes: Iterator[int]) -> Iterator[memoryview]:
    """The file in blocks of whole lines (the last may lack its newline), each a window
    of the file mapped into memory: no copy, and no fresh memory to fault in and zero
    for every block (reading them into buffers cost 1.7 s of CPU for a 10M-event file,
    mapping 0.2 s). A window is unmapped once nothing holds its block. A file cut short
    while it is imported ends the process (SIGBUS); the next run then starts over, as for
    any changed file."""
    length, start = os.fstat(f.fileno()).st_size, 0
    while start < length:
        size = _taking_tail(next(sizes), length - start)
        base = start - start % mmap.ALLOCATIONGRANULARITY  # where a mapping may begin
        while True:
            stop = min(length, start + size)
            window = mmap.mmap(f.fileno(), stop - base, offset=base, access=mmap.ACCESS_READ)
            end = stop if stop == length else base + window.rfind(b"\n", start - base) + 1
            if end > base:
                break
            window.close()  # a line longer than the block: map more
            size *= 2
        yield memoryview(window)[start - base:end - base]
        start = end


def _ndjson_rows(data: bytes | bytearray | memoryview, number: int) -> Iterator[tuple[int, Any]]:
    for line in bytes(data).split(b"\n"):
        if not line.strip():
            continue
        number += 1
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, RowError(None, f"not valid JSON: {exc}")


def _parquet_rows(batch: pa.Table, number: int) -> Iterator[tuple[int, Any]]:
    for number, record in enumerate(batch.to_pylist(), start=number + 1):
        yield number, parquet_event(record)


def _parquet_table(batch: pa.Table) -> pa.Table | None:
    """The batch as `RAW_SCHEMA` columns where the types say what `parquet_event` would
    make of them: text and integer ids as text, zoned timestamps as instants."""
    columns: dict[str, pa.Array] = {}
    for name in TEXT_FIELDS:
        index = batch.schema.get_field_index(name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, pa.string())
        kind = column.type
        if name == "time" and pa.types.is_timestamp(kind):
            if kind.tz is None or kind.unit == "ns":
                return None
            columns["time_us"] = column.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.int64())
            column = pa.nulls(batch.num_rows, pa.string())
        elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                  or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            return None
        columns[name] = column.cast(pa.string())
    index = batch.schema.get_field_index("modelAssisted")
    flags = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, pa.bool_())
    if not (pa.types.is_boolean(flags.type) or pa.types.is_null(flags.type)):
        return None
    columns["modelAssisted"] = flags.cast(pa.bool_())
    columns.setdefault("time_us", pa.nulls(batch.num_rows, pa.int64()))
    return pa.table(columns).select(RAW_SCHEMA.names).cast(RAW_SCHEMA)


def csv_event(record: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row as an event: empty cells are absent, `modelAssisted` is a boolean."""
    event: dict[str, Any] = {}
    for key, value in record.items():
        if key is None or value is None or value == "":
            continue
        event[key.strip()] = value
    flag = event.get("modelAssisted")
    if isinstance(flag, str) and flag.strip().lower() in _TRUE | _FALSE:
        event["modelAssisted"] = flag.strip().lower() in _TRUE
    return event


def parquet_event(record: dict[str, Any]) -> dict[str, Any] | RowError:
    """A Parquet row as an event: timestamps with a zone become RFC 3339, nulls absent."""
    event = {k: v for k, v in record.items() if v is not None}
    moment = event.get("time")
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            return RowError("time", "is a timestamp without a time zone; store it with one "
                                    "(e.g. timestamp[us, tz=UTC]) or as an RFC 3339 string")
        event["time"] = moment.isoformat()
    for key, value in event.items():
        if key != "modelAssisted" and isinstance(value, (int, float)) and not isinstance(value, bool):
            event[key] = str(value)  # numeric ids (image 17) are ids, not numbers
    return event
