/* The numbers of the insights dashboard: KPI tiles, the labeler table and its CSV.
 *
 * Nothing here computes a metric: every number shown is a field of the /stats or
 * /stats/timeseries answer, formatted. Each carries its raw value in data-value.
 */
"use strict";

window.InsightsViews = (function () {
  const C = window.InsightsCharts;

  function count(value) { return value === null || value === undefined ? "—" : C.number.format(value); }
  function rate(value) { return value === null || value === undefined ? "—" : value + "%"; }
  function rateClass(value) { return value === null ? "" : value < 70 ? "low" : value < 85 ? "mid" : ""; }

  function node(tag, className, content) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (content !== undefined) el.textContent = content;
    return el;
  }

  // --- KPI tiles ----------------------------------------------------------------------------
  // `from`: where the value comes from — "stats" (GET /stats `stats`) or "total" (the
  // timeseries' range total, i.e. the sum of the table's rows). `spark`: the per-period field.
  const KPIS = [
    { key: "imagesLabeled", from: "total", label: "Images labeled", spark: "imagesLabeled",
      sub: () => "per session, summed over sessions" },
    { key: "numImagesLabeled", from: "stats", label: "Unique images", spark: "numImagesLabeled",
      sub: () => "each image counted once in the range" },
    { key: "numBoxesDrawn", from: "stats", label: "Boxes drawn", spark: "boxesDrawn",
      sub: (s) => `${count(s.numBoxesAdded)} added − ${count(s.numBoxesRemoved)} removed` },
    { key: "netBoxesAdded", from: "stats", label: "Net boxes added", spark: "netBoxesAdded",
      sub: () => "created and kept within a session" },
    { key: "numImagesMarkedNull", from: "stats", label: "Marked null", spark: "numImagesMarkedNull",
      sub: () => "unique images with nothing to label" },
    { key: "totalImagesUsingModelAssist", from: "stats", label: "Model-assisted", spark: "totalImagesUsingModelAssist",
      sub: () => "unique images labeled with model help" },
    { key: "approvalRate", from: "stats", label: "Approval rate", spark: null,
      sub: (s, t) => `${count(t.approved)} approved · ${count(t.rejected)} rejected` },
  ];

  function renderKpis(box, stats, series) {
    box.replaceChildren();
    for (const kpi of KPIS) {
      const value = kpi.from === "stats" ? stats[kpi.key] : series.total[kpi.key];
      const tile = node("article", "card kpi");
      tile.dataset.kpi = kpi.key;
      tile.appendChild(node("div", "kpi-label", kpi.label));
      const shown = node("div", "kpi-value", kpi.key === "approvalRate" ? rate(value) : count(value));
      shown.dataset.value = value === null ? "" : String(value);
      tile.appendChild(shown);
      tile.appendChild(node("div", "kpi-sub", kpi.sub(stats, series.total)));
      if (kpi.spark) {
        C.sparkline(tile, series.periods.map((p) => p[kpi.spark]));
      } else {
        const meter = node("div", "meter kpi-meter " + rateClass(value));
        const fill = node("i");
        fill.style.width = (value || 0) + "%";
        meter.appendChild(fill);
        tile.appendChild(meter);
        if (value !== null && value < 70) tile.classList.add("rate-low");
      }
      box.appendChild(tile);
    }
  }

  /* Placeholders with the final layout, shimmering until the first answer arrives. */
  function renderKpiSkeleton(box) {
    box.replaceChildren();
    for (const kpi of KPIS) {
      const tile = node("article", "card kpi");
      tile.append(node("div", "kpi-label", kpi.label), node("div", "kpi-value", "0,000"),
                  node("div", "kpi-sub", "loading"));
      box.appendChild(tile);
    }
  }

  // --- the table ----------------------------------------------------------------------------
  const COLUMNS = [
    { key: "labeler", label: "Labeler", text: true },
    { key: "project", label: "Project", text: true },
    { key: "imagesLabeled", label: "Images labeled" },
    { key: "boxesDrawn", label: "Boxes drawn" },
    { key: "boxesAdded", label: "Boxes added" },
    { key: "boxesRemoved", label: "Boxes removed" },
    { key: "boxesUpdated", label: "Boxes updated" },
    { key: "netBoxesAdded", label: "Net boxes added" },
    { key: "netBoxesUpdated", label: "Net boxes updated" },
    { key: "markedNull", label: "Marked null" },
    { key: "modelAssisted", label: "Model-assisted" },
    { key: "approved", label: "Approved" },
    { key: "rejected", label: "Rejected" },
    { key: "approvalRate", label: "Approval rate" },
  ];
  const DEFAULT_SORT = { key: "imagesLabeled", dir: "desc" };

  function sortValue(row, key, names) {
    if (key === "labeler") return (names.get(row.labelerId) || row.labelerId).toLowerCase();
    if (key === "project") return row.projectName.toLowerCase();
    return row[key];
  }

  /* Rows in display order; ties keep the API's order (project, then labeler). */
  function sortRows(rows, sort, names) {
    const column = COLUMNS.find((c) => c.key === sort.key) || COLUMNS.find((c) => c.key === DEFAULT_SORT.key);
    const sign = sort.dir === "asc" ? 1 : -1;
    return rows.map((row, index) => ({ row, index })).sort((a, b) => {
      const x = sortValue(a.row, column.key, names);
      const y = sortValue(b.row, column.key, names);
      if (x === y) return a.index - b.index;
      if (x === null) return 1;  // rows without a value sink in both directions
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    }).map((item) => item.row);
  }

  function renderHead(table, sort, onSort) {
    const row = node("tr");
    for (const column of COLUMNS) {
      const th = node("th", column.text ? "text" : "");
      th.scope = "col";
      th.dataset.field = column.key;
      if (sort.key === column.key) th.setAttribute("aria-sort", sort.dir === "asc" ? "ascending" : "descending");
      const button = node("button", "", column.label);
      button.type = "button";
      button.addEventListener("click", () => onSort(column));
      th.appendChild(button);
      row.appendChild(th);
    }
    table.tHead.replaceChildren(row);
  }

  function whoCell(row, names, colors) {
    const td = node("td", "text");
    td.dataset.field = "labeler";
    td.dataset.value = row.labelerId;
    const who = node("div", "who");
    const swatch = node("i", "swatch");
    swatch.style.background = colors.get(row.labelerId) || C.OTHER;
    const text = node("div");
    const name = names.get(row.labelerId) || row.labelerId;
    text.appendChild(node("span", "who-name", name));
    text.appendChild(node("span", "sub", row.labelerId));
    who.append(swatch, text);
    td.appendChild(who);
    return td;
  }

  function projectCell(row) {
    const td = node("td", "text");
    td.dataset.field = "project";
    td.dataset.value = row.projectId;
    td.appendChild(node("span", "who-name", row.projectName));
    const sub = node("span", "sub project-sub");
    sub.append(node("span", "", row.projectId), node("span", "chip", row.projectType));
    td.appendChild(sub);
    return td;
  }

  function numberCell(key, value) {
    const td = node("td");
    td.dataset.field = key;
    td.dataset.value = value === null ? "" : String(value);
    if (key !== "approvalRate") {
      td.textContent = count(value);
      return td;
    }
    if (value === null) {
      td.appendChild(node("span", "null", "—"));
      td.title = "No reviews in range";
      return td;
    }
    const wrap = node("span", "rate");
    const meter = node("span", "meter " + rateClass(value));
    const fill = node("i");
    fill.style.width = value + "%";
    meter.appendChild(fill);
    wrap.append(meter, node("span", "", rate(value)));
    td.appendChild(wrap);
    return td;
  }

  function renderTable(table, rows, total, ctx) {
    renderHead(table, ctx.sort, ctx.onSort);
    const body = document.createDocumentFragment();
    for (const row of rows) {
      const tr = node("tr");
      tr.dataset.project = row.projectId;
      tr.dataset.labeler = row.labelerId;
      tr.append(whoCell(row, ctx.names, ctx.colors), projectCell(row));
      for (const column of COLUMNS.slice(2)) tr.appendChild(numberCell(column.key, row[column.key]));
      body.appendChild(tr);
    }
    table.tBodies[0].replaceChildren(body);
    const foot = node("tr");
    foot.dataset.total = "";
    const label = node("td", "text", "Total");
    label.appendChild(node("span", "sub", `${rows.length} ${rows.length === 1 ? "row" : "rows"}`));
    const projects = new Set(rows.map((r) => r.projectId)).size;
    foot.append(label, node("td", "text", `${projects} ${projects === 1 ? "project" : "projects"}`));
    for (const column of COLUMNS.slice(2)) foot.appendChild(numberCell(column.key, total[column.key]));
    table.tFoot.replaceChildren(foot);
    if (!rows.length) {
      table.tFoot.replaceChildren();
      const tr = node("tr");
      const td = node("td", "table-empty");
      td.colSpan = COLUMNS.length;
      td.appendChild(node("strong", "", "No labeling activity in this range"));
      td.appendChild(node("span", "", ctx.emptyHint));
      if (ctx.onWiden) {
        const widen = node("button", "btn", "Show the last 90 days");
        widen.type = "button";
        widen.addEventListener("click", ctx.onWiden);
        td.appendChild(node("br"));
        td.appendChild(widen);
      }
      tr.appendChild(td);
      table.tBodies[0].replaceChildren(tr);
    }
  }

  // --- CSV: the same columns and cell format as GET /{workspace}/stats.csv --------------------
  function csvCell(value) {
    if (value === null || value === undefined) return "";
    const text = String(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function toCsv(columns, rows) {
    const lines = [columns.join(",")];
    for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(","));
    return lines.join("\n") + "\n";
  }

  return { renderKpis, renderKpiSkeleton, renderTable, sortRows, toCsv, COLUMNS, DEFAULT_SORT, count, rate };
})();
