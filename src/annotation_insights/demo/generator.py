"""Plausible labeling activity for the demo workspace, the test suite and the benchmarks.

Benchmarks ask for up to 50 million events, so events stream out one local day at a
time: memory stays flat and each day is sorted before it is yielded, which is enough
for global time order because all activity happens inside working hours.
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from operator import itemgetter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SYSTEM_LABELER = "autolabelservice"
_OD, _SEG, _CLS = "object-detection", "instance-segmentation", "classification"
_PROJECTS = (  # slug, type, classes
    ("harbor-boats", _OD, "sailboat motorboat kayak ferry buoy"),
    ("warehouse-pallets", _OD, "pallet forklift person carton"),
    ("roof-hail-damage", _SEG, "hail-dent missing-shingle tarp vent"),
    ("leaf-disease", _CLS, "healthy rust scab blight"),
    ("ppe-compliance", _OD, "helmet vest no-helmet person"),
    ("weld-seam-defects", _SEG, "porosity crack spatter undercut"),
    ("wildlife-camera-traps", _OD, "deer boar fox badger person empty"),
    ("fruit-ripeness", _CLS, "unripe ripe overripe"),
    ("retail-shelf-gaps", _OD, "empty-slot product price-tag"),
    ("potholes", _SEG, "pothole crack patch"),
    ("document-layout", _OD, "title paragraph table figure caption"),
    ("pcb-components", _OD, "resistor capacitor chip connector led"),
    ("cell-nuclei", _SEG, "nucleus mitotic-cell debris"),
    ("parking-occupancy", _CLS, "free occupied blocked"),
    ("traffic-signs", _OD, "stop yield speed-limit no-entry"),
    ("underwater-litter", _SEG, "bottle bag net can"),
)
_FIRST = ("Ana Kenji Priya Omar Lena Mateo Aisha Jonas Mei Tariq Sofia Lucas Ines Ravi Yuki "
          "Emma Diego Fatima Noah Zara Pavel Chloe Kwame Hana Arjun Lea Samir Nora Ivan Amara").split()
_LAST = ("Souza Tanaka Raman Haddad Fischer Rojas Bello Berg Chen Aziz Rossi Martin Costa Iyer "
         "Sato Dubois Vargas Khan Okafor Novak Petrov Moreau Mensah Kim Patel Schmidt Nasser "
         "Lindqvist Volkov Eze").split()

# Behaviour knobs, shared by the generator and the estimate so the two cannot drift apart.
_NULL, _SYSTEM, _SYSTEM_SHARE = 0.04, 0.08, 0.6   # image shares; autolabeler's share of its boxes
_UPDATE, _DELETE = 0.12, 0.05                     # per own box, in the same pass
_SYS_UPDATE, _SYS_DELETE = 0.35, 0.15             # per autolabeler box, fixed by the human
_REVIEW, _QA_REWORK = 0.6, 0.03
_RW_DELETE, _RW_UPDATE, _RW_NEW = 0.3, 0.3, 1.0   # a later pass over an image
_ASSIST_BOTH, _ASSIST_EVENT = 0.5, 0.7  # assist modes: event+boxes, event only, then boxes only
_EXPLICIT, _TWO_PROJECTS, _WEEKEND_LOAD = 0.05, 0.3, 0.5
_REVIEW_DELAYS = (0, 0, 0, 0, 0, 1, 1, 1, 2, 3)  # days after labeling
_WORK_END, _LUNCH, _ACTION, _REVIEW_START = 18 * 3600 + 1800, 12 * 3600, 90, 9 * 3600
_SECOND = itemgetter(0)
_MINUTES = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS: dict[str, tuple[str, ...]] = {}  # UTC offset -> "SS+hh:mm" for each second of a minute


@dataclass(frozen=True)
class DemoSpec:
    seed: int = 7
    projects: int = 4
    labelers: int = 8  # humans; the system labeler comes on top
    days: int = 42
    end: dt.date = dt.date(2026, 11, 27)
    images_per_labeler_day: int = 40  # average over a labeler's weekdays at work
    boxes_per_image: float = 8.0
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if min(self.projects, self.labelers, self.days, self.images_per_labeler_day) < 1:
            raise ValueError("projects, labelers, days and images_per_labeler_day must be >= 1")
        if self.boxes_per_image < 1:
            raise ValueError("boxes_per_image must be >= 1")
        try:  # fail at construction, not halfway through a stream
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {self.timezone!r}") from None


# Per labeler: work speed factor, chance of working on a weekday / weekend day, approval rate,
# model-assist habit, start of the working day (seconds after local midnight), project indexes.
_Traits = collections.namedtuple("_Traits", "speed weekday weekend approve assist start homes")


def demo_projects(spec: DemoSpec) -> list[dict]:
    out = []
    for i in range(spec.projects):
        slug, kind, _ = _PROJECTS[i % len(_PROJECTS)]
        rnd = i // len(_PROJECTS)
        name = slug.replace("-", " ").title().replace("Pcb", "PCB").replace("Ppe", "PPE")
        out.append({"slug": f"{slug}-{rnd + 1}" if rnd else slug,
                    "name": f"{name} {rnd + 1}" if rnd else name, "type": kind})
    return out


def demo_labelers(spec: DemoSpec) -> list[dict]:
    out = []
    for i in range(spec.labelers):
        first, rnd = _FIRST[i % len(_FIRST)], i // len(_FIRST)
        handle = f"{first.lower()}{rnd + 1 if rnd else ''}"
        out.append({"id": f"u-{handle}", "displayName": f"{first} {_LAST[(i + 7 * rnd) % len(_LAST)]}",
                    "email": f"{handle}@example.com", "system": False})
    out.append({"id": SYSTEM_LABELER, "displayName": "Auto Label", "email": None, "system": True})
    return out


def _traits(spec: DemoSpec) -> list[_Traits]:
    """Drawn from their own stream so `estimate_events` sees exactly what the generator uses."""
    rng = random.Random(f"{spec.seed}:traits")
    out = []
    for i in range(spec.labelers):
        homes = [i % spec.projects]
        if spec.projects > 1 and rng.random() < 0.6:
            homes.append((i + 1 + rng.randrange(spec.projects - 1)) % spec.projects)
        # One clearly weaker labeler gives the dashboard's approval column something to show.
        approve = 0.62 if i == 1 else min(0.98, rng.gauss(0.91, 0.03))
        out.append(_Traits(rng.uniform(0.6, 1.4), rng.uniform(0.8, 0.97),
                           0.25 if rng.random() < 0.3 else 0.03, approve,
                           min(0.4, max(0.0, rng.gauss(0.15, 0.06))),
                           int(7.5 * 3600 + rng.random() * 7200), tuple(homes)))
    return out


def _clock(date: dt.date, zone: ZoneInfo) -> tuple[list[str], list[tuple[str, ...]]]:
    """Per-minute prefixes and per-hour "SS+hh:mm" tables: an RFC 3339 stamp for a second after
    local midnight is then one concatenation, with the string work done per day, not per event."""
    seconds = []
    for hour in range(24):
        mins = int(dt.datetime(date.year, date.month, date.day, hour, tzinfo=zone).utcoffset()
                   .total_seconds()) // 60
        off = "Z" if mins == 0 else f"{'+' if mins > 0 else '-'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
        if off not in _SECONDS:
            _SECONDS[off] = tuple(f"{s:02d}{off}" for s in range(60))
        seconds.append(_SECONDS[off])
    day = date.isoformat() + "T"
    return [day + hm for hm in _MINUTES], seconds


def generate_events(spec: DemoSpec) -> Iterator[dict]:
    rand, zone = random.Random(spec.seed).random, ZoneInfo(spec.timezone)
    projects = demo_projects(spec)
    slugs = [p["slug"] for p in projects]
    single = [p["type"] == _CLS for p in projects]
    classes = [tuple(_PROJECTS[i % len(_PROJECTS)][2].split()) for i in range(spec.projects)]
    uids = [lab["id"] for lab in demo_labelers(spec)][:-1]
    traits = _traits(spec)
    next_img, ann_ids = [0] * spec.projects, [itertools.count(1) for _ in range(spec.projects)]
    rework: list[list] = [[] for _ in range(spec.projects)]  # heaps of (ready_day, seq, image, boxes)
    reviews: dict[int, list] = {}  # day -> (time, project, image, labeler index, approved)
    ids, seq = itertools.count(), itertools.count()
    pfx, bpi = f"{spec.seed}-", spec.boxes_per_image
    by_system = {"modelAssisted": True}
    # A day's events are flat tuples (local second, type, project, image, labeler, annotation,
    # class, extra fields) until yield time: sorting ints is cheap, and each dict is built just
    # before the consumer needs it instead of a whole day of dicts crowding the CPU caches.
    out: list[tuple] = []

    def new_box(t, p, img, uid, extra):
        cl = classes[p]
        box = "a-" + str(next(ann_ids[p])), cl[int(rand() * rand() * len(cl))]  # imbalanced classes
        out.append((t, "annotation.created", p, img, uid, *box, extra))
        return box

    def label_image(d, li, p, t, img, extra, lo, span):
        """First pass over a fresh image; returns when the labeler moves on."""
        uid, tr, boxes = uids[li], traits[li], []
        if rand() < _NULL:
            out.append((t, "image.marked_null", p, img, uid, None, None, extra))
        else:
            n, own = 1 if single[p] else max(1, int(4 * bpi * rand() * rand() + rand())), extra
            if rand() < _SYSTEM:
                drafts = int(n * _SYSTEM_SHARE + rand())
                for box in [new_box(max(0, t - 600) + j, p, img, SYSTEM_LABELER, by_system)
                            for j in range(drafts)]:
                    r, t = rand(), t + lo + int(span * rand())
                    if r < _SYS_DELETE:
                        out.append((t, "annotation.deleted", p, img, uid, *box, extra))
                        continue
                    if r < _SYS_DELETE + _SYS_UPDATE:
                        out.append((t, "annotation.updated", p, img, uid, *box, extra))
                    boxes.append(box)
                n -= drafts
            elif rand() < tr.assist:
                mode = rand()
                if mode < _ASSIST_EVENT:
                    out.append((t, "image.model_assisted", p, img, uid, None, None, extra))
                if mode < _ASSIST_BOTH or mode >= _ASSIST_EVENT:
                    own = dict(extra or (), modelAssisted=True)
            cl, ann_id = classes[p], ann_ids[p]
            for _ in range(n):  # new_box() inlined: this loop makes most of the events
                t += lo + int(span * rand())
                aid, cls, r = "a-" + str(next(ann_id)), cl[int(rand() * rand() * len(cl))], rand()
                out.append((t, "annotation.created", p, img, uid, aid, cls, own))
                box = aid, cls
                if r < _DELETE + _UPDATE:
                    t += lo + int(span * rand())
                    kind = "annotation.deleted" if r < _DELETE else "annotation.updated"
                    out.append((t, kind, p, img, uid, *box, extra))
                if r >= _DELETE:
                    boxes.append(box)
        if len(uids) > 1 and rand() < _REVIEW:
            k = _REVIEW_DELAYS[int(rand() * len(_REVIEW_DELAYS))]
            approved = rand() < tr.approve
            rt = t + 1800 + int(rand() * 7200) if k == 0 else _REVIEW_START + int(rand() * 32400)
            reviews.setdefault(d + k, []).append((rt, p, img, li, approved))
            if not approved and boxes:
                heapq.heappush(rework[p], (d + k + 1, next(seq), img, boxes))
                boxes = None
        if boxes and rand() < _QA_REWORK:
            heapq.heappush(rework[p], (d + 2 + int(rand() * 7), next(seq), img, boxes))
        return t + lo + int(span * rand())

    def redo_image(p, t, img, uid, boxes, extra, lo, span):
        """A later pass over an image from an earlier day: rejected in review, or caught in QA."""
        for box in boxes:
            r, t = rand(), t + lo + int(span * rand())
            if r < _RW_DELETE or single[p]:
                out.append((t, "annotation.deleted", p, img, uid, *box, extra))
            elif r < _RW_DELETE + _RW_UPDATE:
                out.append((t, "annotation.updated", p, img, uid, *box, extra))
        for _ in range(1 if single[p] else int(rand() * (2 * _RW_NEW + 1))):
            t += lo + int(span * rand())
            new_box(t, p, img, uid, extra)
        return t + lo + int(span * rand())

    def labeler_day(d, li, weekday):
        tr = traits[li]
        m = int(spec.images_per_labeler_day * tr.speed * (1 if weekday else _WEEKEND_LOAD)
                * (0.6 + 0.8 * rand()) + rand())
        if m == 0:
            return
        if len(tr.homes) > 1 and rand() < _TWO_PROJECTS:
            split = int(m * (0.3 + 0.4 * rand()))
            plan = ((tr.homes[0], split), (tr.homes[1], m - split))
        else:
            plan = ((tr.homes[int(rand() * len(tr.homes))], m),)
        t, lunch = tr.start + int(rand() * 1200), _LUNCH + int(rand() * 1800)
        # The day's volume sets the pace, so work spreads over the day yet ends by evening.
        pace = min(_ACTION, (_WORK_END - 9000 * rand() - t - 2700) / (m * (1.25 * bpi + 3)))
        lo, span = int(0.4 * pace) + 1, 1.2 * pace
        session = f"s{spec.seed}-{d}-{li}-" if rand() < _EXPLICIT else None
        extra = {"session": session + "am"} if session else None
        for p, count in plan:
            queue, todo = rework[p], []
            while queue and queue[0][0] <= d and len(todo) <= count // 5:
                todo.append(heapq.heappop(queue)[2:])
            for item in todo + [None] * count:
                if t > lunch:
                    t, lunch = t + 1800 + int(rand() * 1800), 86400
                    extra = {"session": session + "pm"} if session else None
                if item is None:
                    next_img[p] += 1
                    t = label_image(d, li, p, t, f"img-{next_img[p]:06d}", extra, lo, span)
                else:
                    t = redo_image(p, t, item[0], uids[li], item[1], extra, lo, span)

    first = spec.end - dt.timedelta(days=spec.days - 1)
    for d in range(spec.days):
        date = first + dt.timedelta(days=d)
        weekday, (minutes, seconds) = date.weekday() < 5, _clock(date, zone)
        for li, tr in enumerate(traits):
            if rand() < (tr.weekday if weekday else tr.weekend):
                labeler_day(d, li, weekday)
        for rt, p, img, li, approved in reviews.pop(d, ()):
            reviewer = uids[4 * int(rand() * ((len(uids) + 3) // 4))]  # every fourth labeler reviews
            out.append((rt, "image.approved" if approved else "image.rejected", p, img, uids[li], None, None,
                        {"reviewer": uids[(li + 1) % len(uids)] if reviewer == uids[li] else reviewer}))
        out.sort(key=_SECOND)
        for t, kind, p, img, uid, aid, cls, extra in out:
            if t > 86399:  # only on absurdly busy days; the last second absorbs the overflow
                t = 86399
            m = t // 60
            ev = {"id": pfx + str(next(ids)), "type": kind, "time": minutes[m] + seconds[m // 60][t % 60],
                  "project": slugs[p], "image": img, "labeler": uid}
            if aid:
                ev["annotation"] = aid
                ev["class"] = cls
            if extra:
                ev.update(extra)
            yield ev
        out.clear()


def estimate_events(spec: DemoSpec) -> int:
    return round(_expected_events(spec, spec.boxes_per_image))


def spec_for_event_count(n: int, **overrides) -> DemoSpec:
    """Benchmarks name a size, not a shape: keep what the caller fixed, fit the rest to ~n events.

    Days, then labelers, move first so a labeler's day stays believable (20-80 images);
    images per day and finally boxes per image absorb what is left.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    spec = DemoSpec(**overrides)
    for field, low, high in (("days", 1, 365), ("labelers", 2, 100_000)):
        ipld = n * spec.images_per_labeler_day / _expected_events(spec, spec.boxes_per_image)
        if field not in overrides and not 20 <= ipld <= 80:
            scaled = round(getattr(spec, field) * ipld / min(max(ipld, 20), 80))
            spec = replace(spec, **{field: max(low, min(high, scaled))})
    if "images_per_labeler_day" not in overrides:
        ipld = n * spec.images_per_labeler_day / _expected_events(spec, spec.boxes_per_image)
        spec = replace(spec, images_per_labeler_day=max(1, round(ipld)))
    if "boxes_per_image" not in overrides:
        b = spec.boxes_per_image
        for _ in range(3):  # Newton on a nearly linear function
            got = _expected_events(spec, b)
            b = max(1.0, b + (n - got) / (_expected_events(spec, b + 1) - got))
        spec = replace(spec, boxes_per_image=round(b, 3))
    return spec


def _expected_events(spec: DemoSpec, boxes: float) -> float:
    """Mirror of the generator's probabilities, so progress bars and sizing need no dry run."""
    first = spec.end - dt.timedelta(days=spec.days - 1)
    # [weekday, weekend] x (days, review in window, rework of a rejection in window, QA rework in window)
    days = [[0.0] * 4, [0.0] * 4]
    for d in range(spec.days):
        left, row = spec.days - d, days[(first + dt.timedelta(days=d)).weekday() >= 5]
        for j, kept in enumerate((1, sum(k < left for k in _REVIEW_DELAYS) / len(_REVIEW_DELAYS),
                                  sum(k + 1 < left for k in _REVIEW_DELAYS) / len(_REVIEW_DELAYS),
                                  sum(2 + k < left for k in range(7)) / 7)):
            row[j] += kept
    # E[max(1, floor(Y + U))] for Y = 4b*U1*U2: the mean b plus the lift from the max.
    n_boxes = boxes + (0.75 + 0.5 * math.log(4 * boxes)) / (4 * boxes)
    single = [p["type"] == _CLS for p in demo_projects(spec)]
    reviewed = spec.labelers > 1
    total = 0.0
    for tr in _traits(spec):
        w = [tr.weekday * wd + tr.weekend * _WEEKEND_LOAD * we for wd, we in zip(*days)]
        rejected = _REVIEW * (1 - tr.approve) if reviewed else 0.0
        for home in tr.homes:
            n = 1.0 if single[home] else n_boxes
            with_system = (n * _SYSTEM_SHARE * (1 + _SYS_DELETE + _SYS_UPDATE)
                           + n * (1 - _SYSTEM_SHARE) * (1 + _DELETE + _UPDATE))
            plain = n * (1 + _DELETE + _UPDATE) + tr.assist * _ASSIST_EVENT
            labeling = _NULL + (1 - _NULL) * (_SYSTEM * with_system + (1 - _SYSTEM) * plain)
            alive = n * (1 - _DELETE) - _SYSTEM * n * _SYSTEM_SHARE * (_SYS_DELETE - _DELETE)
            redo = 2 if single[home] else alive * (_RW_DELETE + _RW_UPDATE) + _RW_NEW
            per_image = (labeling * w[0] + reviewed * _REVIEW * w[1]
                         + (1 - _NULL) * redo * (rejected * w[2] + (1 - rejected) * _QA_REWORK * w[3]))
            total += spec.images_per_labeler_day * tr.speed * per_image / len(tr.homes)
    return total
