/* Hand-written SVG charts for the insights dashboard: no library, no network.
 *
 * Every chart redraws itself at its container's width (ResizeObserver), carries its
 * numbers on data-* attributes (so tests read what is drawn) and explains itself in a
 * tooltip. Names are always set with textContent: labeler ids come from user events.
 */
"use strict";

window.InsightsCharts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                   "#ff9da7", "#9c755f", "#a0cbe8", "#8cd17d", "#d4a6c8"];
  const OTHER = "#bab0ac";
  const number = new Intl.NumberFormat("en-US");

  function svg(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = svg("text", Object.assign({ x, y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function compact(value) {
    const abs = Math.abs(value);
    if (abs >= 1e6) return (value / 1e6).toFixed(abs >= 1e7 ? 0 : 1).replace(/\.0$/, "") + "M";
    if (abs >= 1e4) return (value / 1e3).toFixed(0) + "k";
    if (abs >= 1e3) return (value / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return String(value);
  }

  /* Round axis steps (1, 2, 5 × 10^k; 2.5 from 25 up) covering [0, max] in about `count` ticks. */
  function ticks(max, count) {
    if (max <= 0) return { top: 1, step: 1, values: [0, 1] };
    const raw = max / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const multiples = power >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10];
    const step = Math.max(1, multiples.map((m) => m * power).find((s) => s >= raw));
    const top = Math.ceil(max / step) * step;
    const values = [];
    for (let v = 0; v <= top; v += step) values.push(v);
    return { top, step, values };
  }

  // --- tooltip --------------------------------------------------------------------------
  const tooltip = {
    node: null,
    show(title, rows, total, event) {
      const tip = this.node || (this.node = document.getElementById("tooltip"));
      tip.replaceChildren();
      const head = document.createElement("div");
      head.className = "tt-title";
      head.textContent = title;
      tip.appendChild(head);
      for (const row of rows) tip.appendChild(this.row(row));
      if (total) {
        const line = this.row(total);
        line.classList.add("tt-total");
        tip.appendChild(line);
      }
      tip.hidden = false;
      const pad = 14;
      const box = tip.getBoundingClientRect();
      let x = event.clientX + pad;
      let y = event.clientY + pad;
      if (x + box.width > window.innerWidth - 8) x = event.clientX - box.width - pad;
      if (y + box.height > window.innerHeight - 8) y = event.clientY - box.height - pad;
      tip.style.left = Math.max(8, x) + "px";
      tip.style.top = Math.max(8, y) + "px";
    },
    row(row) {
      const line = document.createElement("div");
      line.className = "tt-row";
      if (row.color) {
        const swatch = document.createElement("i");
        swatch.className = "swatch";
        swatch.style.background = row.color;
        line.appendChild(swatch);
      }
      const name = document.createElement("span");
      name.className = "tt-name";
      name.textContent = row.name;
      const value = document.createElement("b");
      value.textContent = row.value;
      line.append(name, value);
      return line;
    },
    hide() { if (this.node) this.node.hidden = true; },
  };

  document.addEventListener("pointerdown", (event) => {
    if (!event.target.closest || !event.target.closest(".chart")) tooltip.hide();
  });

  // --- sizing -----------------------------------------------------------------------------
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const box = entry.target;
      const width = Math.round(entry.contentRect.width);
      if (box._draw && width && width !== box._width) { box._width = width; box._draw(); }
    }
  });

  function mount(box, draw) {
    box._draw = () => { tooltip.hide(); box.replaceChildren(); draw(box.clientWidth, box.clientHeight); };
    box._width = box.clientWidth;
    observer.observe(box);
    box._draw();
  }

  function empty(box, message) {
    box._draw = null;
    box.style.height = "";
    box.replaceChildren();
    const note = document.createElement("div");
    note.className = "chart-empty";
    note.textContent = message;
    box.appendChild(note);
  }

  function legend(list, items) {
    list.replaceChildren();
    for (const item of items) {
      const li = document.createElement("li");
      const swatch = document.createElement("i");
      swatch.className = "swatch";
      swatch.style.background = item.color;
      const name = document.createElement("span");
      name.textContent = item.name;
      li.append(swatch, name);
      li.dataset.series = item.id;
      list.appendChild(li);
    }
  }

  /* Period bands: x positions, label thinning, and hover handling shared by the time charts. */
  function periodFrame(root, width, height, margin, labels) {
    const inner = width - margin.left - margin.right;
    const band = inner / Math.max(1, labels.length);
    const every = Math.max(1, Math.ceil(58 / band));
    const axis = svg("g", { class: "axis" }, root);
    labels.forEach((label, i) => {
      if (i % every) return;
      text(axis, margin.left + band * (i + 0.5), height - 6, label, { "text-anchor": "middle" });
    });
    return { band, x: (i) => margin.left + band * i };
  }

  function hoverBands(root, frame, margin, height, count, onShow) {
    const layer = svg("g", {}, root);
    for (let i = 0; i < count; i++) {
      const band = svg("rect", { class: "hover-band", x: frame.x(i), y: margin.top, width: frame.band,
                                 height: height - margin.top - margin.bottom, "data-period-index": i }, layer);
      const show = (event) => {
        for (const other of layer.querySelectorAll(".active")) other.classList.remove("active");
        band.classList.add("active");
        onShow(i, event);
      };
      band.addEventListener("pointermove", show);
      band.addEventListener("pointerdown", show);  // a tap on a touch screen
      band.addEventListener("pointerleave", (event) => {
        if (event.pointerType === "touch") return;  // a lifted finger leaves; keep what it tapped
        band.classList.remove("active");
        tooltip.hide();
      });
    }
  }

  function yAxis(root, width, margin, scale, values, format) {
    const grid = svg("g", { class: "grid" }, root);
    const axis = svg("g", { class: "axis" }, root);
    for (const v of values) {
      const y = scale(v);
      svg("line", { x1: margin.left, x2: width - margin.right, y1: y, y2: y, class: v === 0 ? "zero" : "" },
          v === 0 ? axis : grid);
      text(axis, margin.left - 8, y + 4, format(v), { "text-anchor": "end" });
    }
  }

  function leftMargin(values, format) {
    const longest = Math.max(...values.map((v) => format(v).length));
    return 14 + longest * 7;
  }

  /* Stacked columns: one column per period, one segment per series (first series at the bottom). */
  function stackedBars(box, spec) {
    mount(box, (width, height) => {
      const totals = spec.labels.map((_, i) => spec.series.reduce((sum, s) => sum + s.values[i], 0));
      const axisTicks = ticks(Math.max(0, ...totals), 4);
      const margin = { top: 10, right: 8, bottom: 24, left: leftMargin(axisTicks.values, compact) };
      const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}` }, box);
      const y = (v) => margin.top + (height - margin.top - margin.bottom) * (1 - v / axisTicks.top);
      yAxis(root, width, margin, y, axisTicks.values, compact);
      const frame = periodFrame(root, width, height, margin, spec.labels);
      const barWidth = Math.max(1, Math.min(44, frame.band * 0.7));
      const bars = svg("g", { class: "bars" }, root);
      spec.labels.forEach((_, i) => {
        let base = 0;
        for (const series of spec.series) {
          const value = series.values[i];
          if (!value) continue;
          const top = y(base + value);
          svg("rect", { x: frame.x(i) + (frame.band - barWidth) / 2, y: top, width: barWidth,
                        height: Math.max(0.5, y(base) - top), fill: series.color, "data-series": series.id,
                        "data-period": spec.periods[i], "data-value": value, rx: barWidth > 8 ? 1.5 : 0 }, bars);
          base += value;
        }
      });
      hoverBands(root, frame, margin, height, spec.labels.length, (i, event) => {
        const rows = spec.series.filter((s) => s.values[i]).sort((a, b) => b.values[i] - a.values[i])
          .map((s) => ({ name: s.name, color: s.color, value: number.format(s.values[i]) }));
        tooltip.show(spec.titles[i], rows.length ? rows : [{ name: "No activity", value: "" }],
                     { name: spec.totalName, value: number.format(totals[i]) }, event);
      });
    });
  }

  /* Mirrored columns: `up` above the zero line, `down` below it, per period. */
  function divergingBars(box, spec) {
    mount(box, (width, height) => {
      const maxUp = Math.max(0, ...spec.up.values);
      const maxDown = Math.max(0, ...spec.down.values);
      const step = ticks(maxUp + maxDown, 4).step;
      const top = Math.ceil(maxUp / step) * step || (maxDown ? 0 : step);
      // The scale reaches just below the deepest bar: removals are usually few, and a whole
      // empty tick below them would squash the chart.
      const bottom = Math.ceil(maxDown * 1.1);
      const values = [];
      for (let v = -Math.floor(bottom / step) * step; v <= top; v += step) values.push(v);
      const span = Math.max(1, top + bottom);
      const format = (v) => compact(Math.abs(v));
      const margin = { top: 10, right: 8, bottom: 24, left: leftMargin(values, format) };
      const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}` }, box);
      const y = (v) => margin.top + (height - margin.top - margin.bottom) * (top - v) / span;
      yAxis(root, width, margin, y, values, format);
      const frame = periodFrame(root, width, height, margin, spec.labels);
      const barWidth = Math.max(1, Math.min(36, frame.band * 0.62));
      const bars = svg("g", { class: "bars" }, root);
      spec.labels.forEach((_, i) => {
        const x = frame.x(i) + (frame.band - barWidth) / 2;
        const up = spec.up.values[i];
        const down = spec.down.values[i];
        if (up) svg("rect", { x, y: y(up), width: barWidth, height: y(0) - y(up), fill: spec.up.color,
                              "data-series": spec.up.id, "data-period": spec.periods[i], "data-value": up }, bars);
        if (down) svg("rect", { x, y: y(0), width: barWidth, height: y(-down) - y(0), fill: spec.down.color,
                                "data-series": spec.down.id, "data-period": spec.periods[i], "data-value": down }, bars);
      });
      hoverBands(root, frame, margin, height, spec.labels.length, (i, event) => {
        tooltip.show(spec.titles[i], [
          { name: spec.up.name, color: spec.up.color, value: number.format(spec.up.values[i]) },
          { name: spec.down.name, color: spec.down.color, value: number.format(spec.down.values[i]) },
        ], { name: spec.netName, value: number.format(spec.net[i]) }, event);
      });
    });
  }

  /* Horizontal bars on a 0–100 scale, one row per item, with an optional reference line. */
  function rateBars(box, spec) {
    const rowHeight = 34;
    mount(box, (width) => {
      const narrow = width < 420;
      const labelWidth = narrow ? Math.min(120, width * 0.36) : Math.min(180, width * 0.32);
      const margin = { top: 22, right: 64, left: labelWidth + 12 };
      const height = margin.top + spec.rows.length * rowHeight + 4;
      box.style.height = height + 18 + "px";
      const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}` }, box);
      const inner = width - margin.left - margin.right;
      const x = (v) => margin.left + inner * v / 100;
      const axis = svg("g", { class: "axis" }, root);
      for (const v of [0, 50, 100]) {
        text(axis, x(v), 12, v + "%", { "text-anchor": v === 0 ? "start" : v === 100 ? "end" : "middle" });
      }
      spec.rows.forEach((row, i) => {
        const top = margin.top + i * rowHeight;
        const group = svg("g", { class: "rate-row", "data-series": row.id,
                                 "data-value": row.value === null ? "" : row.value }, root);
        const name = text(group, 0, top + 15, row.name, { class: "row-label" });
        clip(name, labelWidth);
        text(group, 0, top + 28, row.sub, { class: "row-sub" });
        svg("rect", { class: "track", x: margin.left, y: top + 8, width: inner, height: 14, rx: 3 }, group);
        if (row.value !== null) {
          svg("rect", { x: margin.left, y: top + 8, width: Math.max(1, x(row.value) - margin.left), height: 14,
                        rx: 3, fill: row.color }, group);
        }
        text(group, width - margin.right + 8, top + 19, row.value === null ? "—" : row.value + "%",
             { class: "bar-label" });
        const hit = svg("rect", { x: 0, y: top, width, height: rowHeight, fill: "transparent" }, group);
        const show = (event) => tooltip.show(row.name, row.detail, null, event);
        hit.addEventListener("pointermove", show);
        hit.addEventListener("pointerdown", show);
        hit.addEventListener("pointerleave", (event) => { if (event.pointerType !== "touch") tooltip.hide(); });
      });
      if (spec.reference !== null && spec.rows.length) {
        const rx = x(spec.reference);
        svg("line", { class: "ref-line", x1: rx, x2: rx, y1: margin.top + 2, y2: height - 2 }, root);
        const label = text(root, rx, height + 12, `${spec.referenceName} ${spec.reference}%`,
                           { class: "row-sub", "text-anchor": rx > width - margin.right - 40 ? "end" : "middle" });
        label.dataset.value = spec.reference;
      }
    });
  }

  function clip(node, width) {
    const full = node.textContent;
    if (node.getComputedTextLength() <= width) return;
    let cut = full.length;
    while (cut > 1 && node.getComputedTextLength() > width) node.textContent = full.slice(0, --cut) + "…";
    const title = svg("title", {}, node);
    title.textContent = full;
  }

  function sparkline(parent, values) {
    const width = 120;
    const height = 28;
    const root = svg("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none",
                              "aria-hidden": "true" }, parent);
    if (values.length < 2) return root;
    const max = Math.max(1, ...values);
    const points = values.map((v, i) => [width * i / (values.length - 1), height - 2 - (height - 4) * v / max]);
    const line = points.map(([px, py], i) => (i ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1)).join("");
    svg("path", { class: "area", d: `${line}L${width} ${height}L0 ${height}Z` }, root);
    svg("path", { class: "line", d: line, "vector-effect": "non-scaling-stroke" }, root);
    return root;
  }

  return { PALETTE, OTHER, stackedBars, divergingBars, rateBars, sparkline, legend, empty, tooltip, number };
})();
