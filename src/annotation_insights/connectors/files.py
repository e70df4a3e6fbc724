"""Streaming readers for event files in the SPEC §3 schema: NDJSON, CSV and Parquet.

Each reader yields `(row number, raw event)` one row at a time (Parquet one record batch
at a time), so memory stays constant whatever the file size, and reports how far it got
for the progress bar. A row that cannot even be parsed is yielded as a `RowError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

FORMATS = ("ndjson", "csv", "parquet")
_EXTENSIONS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv",
               ".parquet": "parquet", ".pq": "parquet"}
_TRUE, _FALSE = frozenset(("true", "1", "yes", "t", "y")), frozenset(("false", "0", "no", "f", "n"))
PARQUET_BATCH_ROWS = 4_096


@dataclass(frozen=True)
class RowError:
    field: str | None
    message: str


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
        if self.format == "ndjson":
            return self._ndjson()
        if self.format == "csv":
            return self._csv()
        return self._parquet_rows()

    def _ndjson(self) -> Iterator[tuple[int, Any]]:
        with self.path.open("rb") as f:
            number = 0
            for line in f:
                self.position += len(line)
                if not line.strip():
                    continue
                number += 1
                try:
                    yield number, orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield number, RowError(None, f"not valid JSON: {exc}")

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

    def _parquet_rows(self) -> Iterator[tuple[int, Any]]:
        number = 0
        for batch in self._parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for record in batch.to_pylist():
                number += 1
                self.position = number
                yield number, parquet_event(record)


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
