"""The benchmark's events: generated once per shape, cached as NDJSON and Parquet.

Generating 10M events takes about a minute and every later step (HTTP ingest, both
imports, both baselines) reads the same files, so all of them see exactly the same data.
The Parquet file stores `time` as `timestamp[us, tz=UTC]`, the typed form a data team
would export, and ids as strings. The generator writes events in time order, as tools
send them while people work; `arrival="random"` gives the same events in a random
order (seeded), as a backfill from several sources may: then nearly every batch reaches
sessions stored long before it. The generator's ids are short (`7-0`, `a-10`); with
`ids="uuid"` every event id and every annotation id is a random UUID instead (seeded),
as many tools make them: the same events, with the longest ids a store is likely to see
(they cost it more on disk than anything else an event holds).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from annotation_insights.demo.generator import DemoSpec, generate_events, spec_for_event_count

PROJECTS, DAYS = 20, 365
COLUMNS = ("id", "type", "time", "project", "image", "labeler", "annotation", "session",
           "modelAssisted", "reviewer", "class")
SCHEMA = pa.schema([(c, pa.timestamp("us", tz="UTC") if c == "time" else
                     pa.bool_() if c == "modelAssisted" else pa.string()) for c in COLUMNS])
_CHUNK = 200_000
ARRIVALS = ("time", "random")
ID_STYLES = ("short", "uuid")
_BUCKET_BYTES = 512 * 2**20  # lines shuffled in memory at a time
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([kKmM]?)")


def parse_size(text: str) -> int:
    """'1M', '500k', '2.5M' or '1000000' -> events."""
    m = _SIZE.fullmatch(text.strip().replace("_", ""))
    if not m:
        raise ValueError(f"not an event count: {text!r} (use e.g. 1M, 500k, 1000000)")
    return round(float(m[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[m[2].lower()])


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


@dataclass(frozen=True)
class Dataset:
    requested: int
    events: int  # what the generator made: ~requested, not exactly
    labelers: int
    spec: DemoSpec
    ndjson: Path
    parquet: Path
    arrival: str = "time"
    ids: str = "short"

    @property
    def label(self) -> str:
        return size_label(self.requested)

    @property
    def end(self) -> dt.date:
        return self.spec.end

    def describe(self) -> dict:
        return {"requested": self.requested, "events": self.events, "labelers": self.labelers,
                "arrival": self.arrival, "ids": self.ids, "spec": _spec_json(self.spec),
                "ndjson": str(self.ndjson), "parquet": str(self.parquet)}


def dataset(n: int, workdir: Path, *, labelers: int = 200, arrival: str = "time", ids: str = "short",
            log=print) -> Dataset:
    spec = spec_for_event_count(n, projects=PROJECTS, labelers=labelers, days=DAYS)
    base = workdir / f"events-{size_label(n)}-{labelers}l"

    def derived(data: Dataset, suffix: str, what: str, events: Callable[[], Iterable[dict]]) -> Dataset:
        """The events of `data` rewritten, cached beside it under a name ending in `suffix`."""
        nonlocal base
        base = base.with_name(base.name + suffix)
        cached = _cached(n, labelers, spec, base)
        if cached is None:
            log(f"Writing the {data.label} events {what} ...")
            cached = _written(n, labelers, spec, base, events())
        return cached

    data = _cached(n, labelers, spec, base)
    if data is None:
        log(f"Generating {size_label(n)} events ({labelers} labelers, {PROJECTS} projects, {DAYS} days) "
            f"into {workdir} ...")
        data = _written(n, labelers, spec, base, generate_events(spec))
    if ids == "uuid":
        data = derived(data, "-uuid", "with UUID ids", lambda: _uuid_ids(_read(data.ndjson)))
    if arrival == "random":
        data = derived(data, "-random", "in a random order",
                       lambda: (orjson.loads(line) for line in _shuffled_lines(data.ndjson, workdir)))
    return replace(data, arrival=arrival, ids=ids)


def _read(path: Path) -> Iterator[dict]:
    with path.open("rb") as f:
        for line in f:
            yield orjson.loads(line)


def _uuid_ids(events: Iterable[dict], seed: int = 1) -> Iterator[dict]:
    """The events with a random UUID for each event id and for each (project, annotation)."""
    rng = random.Random(seed)
    annotations: dict[tuple[str, str], str] = {}

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    for event in events:
        event["id"] = new_id()
        if "annotation" in event:
            key = (event["project"], event["annotation"])
            if key not in annotations:
                annotations[key] = new_id()
            event["annotation"] = annotations[key]
        yield event


def _written(n: int, labelers: int, spec: DemoSpec, base: Path, events: Iterable[dict]) -> Dataset:
    ndjson, parquet, meta = _files(base)
    count = _write(events, ndjson, parquet)
    meta.write_text(json.dumps({"events": count, "spec": _spec_json(spec)}))
    return Dataset(n, count, labelers, spec, ndjson, parquet)


def _files(base: Path) -> tuple[Path, Path, Path]:
    return base.with_suffix(".ndjson"), base.with_suffix(".parquet"), base.with_suffix(".json")


def _cached(n: int, labelers: int, spec: DemoSpec, base: Path) -> Dataset | None:
    ndjson, parquet, meta = _files(base)
    if meta.exists() and ndjson.exists() and parquet.exists():
        cached = json.loads(meta.read_text())
        if cached["spec"] == _spec_json(spec):
            return Dataset(n, cached["events"], labelers, spec, ndjson, parquet)
    return None


def _shuffled_lines(path: Path, workdir: Path, seed: int = 1) -> Iterator[bytes]:
    """Every line of the file once, in a uniformly random order, holding a bucket of the
    file in memory at a time: each line goes to a bucket drawn at random, then each
    bucket is shuffled."""
    rng = random.Random(seed)
    count = path.stat().st_size // _BUCKET_BYTES + 1
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        buckets = [Path(tmp) / str(i) for i in range(count)]
        files = [bucket.open("wb") for bucket in buckets]
        with path.open("rb") as f:
            for line in f:
                files[rng.randrange(count)].write(line)
        for file in files:
            file.close()
        for bucket in buckets:
            lines = bucket.read_bytes().splitlines(keepends=True)
            bucket.unlink()
            rng.shuffle(lines)
            yield from lines


def _spec_json(spec: DemoSpec) -> dict:
    out = asdict(spec)
    out["end"] = spec.end.isoformat()
    return out


def _write(events: Iterable[dict], ndjson: Path, parquet: Path) -> int:
    count = 0
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    parse = dt.datetime.fromisoformat
    with ndjson.open("wb") as out, pq.ParquetWriter(parquet, SCHEMA, compression="zstd") as writer:
        for event in events:
            out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            for c in COLUMNS:
                value = event.get(c)
                columns[c].append(parse(value) if c == "time" else value)
            count += 1
            if len(columns["id"]) >= _CHUNK:
                writer.write_table(pa.table(columns, schema=SCHEMA))
                columns = {c: [] for c in COLUMNS}
        if columns["id"]:
            writer.write_table(pa.table(columns, schema=SCHEMA))
    return count


def json_list(ndjson: bytes) -> bytes:
    """An NDJSON batch as the JSON list an HTTP client's `json=` sends: compact, one line."""
    return b"[" + b",".join(ndjson.splitlines()) + b"]"


def ndjson_batches(path: Path, size: int, limit: int | None = None):
    """The file's lines in batches of `size`, as ready-to-send NDJSON bodies."""
    sent = 0
    with path.open("rb") as f:
        batch: list[bytes] = []
        for line in f:
            batch.append(line)
            if len(batch) == size:
                yield b"".join(batch), len(batch)
                sent += len(batch)
                batch = []
                if limit is not None and sent >= limit:
                    return
        if batch:
            yield b"".join(batch), len(batch)
