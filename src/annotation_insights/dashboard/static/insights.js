/* The insights dashboard: sign-in, filters in the URL, loading, and putting answers on screen.
 *
 * The API key lives in sessionStorage (this tab only) and travels as a Bearer header; the
 * URL holds only the view (dates, filters, granularity, sort), so a link can be shared.
 */
"use strict";

(function () {
  const C = window.InsightsCharts;
  const V = window.InsightsViews;
  const config = JSON.parse(document.getElementById("config").textContent);
  const WS = config.workspace;
  const STORAGE = "annotation-insights:key:" + WS;
  const $ = (id) => document.getElementById(id);
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const LONG_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                       "September", "October", "November", "December"];
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MAX_COLORED = 11;
  const MAX_RATE_ROWS = 15;

  const state = { key: null, context: null, filters: {}, sort: V.DEFAULT_SORT, stats: null, series: null,
                  seq: 0, controller: null };

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  // --- dates (ISO strings, calendar arithmetic in UTC so no local timezone leaks in) --------
  function parts(iso) { return iso.split("-").map(Number); }
  function addDays(iso, days) {
    const date = new Date(iso + "T00:00:00Z");
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
  }
  function daysBetween(a, b) { return Math.round((Date.parse(b) - Date.parse(a)) / 864e5); }
  function isDate(value) { return /^\d{4}-\d{2}-\d{2}$/.test(value || ""); }
  function human(iso, withYear) {
    const [y, m, d] = parts(iso);
    return `${MONTHS[m - 1]} ${d}${withYear ? ", " + y : ""}`;
  }

  const PRESETS = {
    "7d": (today) => [addDays(today, -6), today],
    "30d": (today) => [addDays(today, -29), today],
    "90d": (today) => [addDays(today, -89), today],
    month: (today) => [today.slice(0, 8) + "01", today],
  };

  function presetOf(start, end) {
    const today = state.context.today;
    return Object.keys(PRESETS).find((name) => {
      const [s, e] = PRESETS[name](today);
      return s === start && e === end;
    }) || "custom";
  }

  function autoGranularity(start, end) {
    const days = daysBetween(start, end) + 1;
    return days <= 92 ? "day" : days <= 730 ? "week" : "month";
  }

  function periodLabel(period, granularity) {
    const [y, m, d] = parts(period.period);
    if (granularity === "month") return `${MONTHS[m - 1]} ${String(y).slice(2)}`;
    return `${MONTHS[m - 1]} ${d}`;
  }

  function periodTitle(period, granularity) {
    const [y, m] = parts(period.period);
    if (granularity === "month") return `${LONG_MONTHS[m - 1]} ${y}`;
    if (granularity === "week") return `Week of ${human(period.startDate)} – ${human(period.endDate, true)}`;
    return `${DAYS[new Date(period.period + "T00:00:00Z").getUTCDay()]}, ${human(period.period, true)}`;
  }

  // --- URL ⇄ filters ------------------------------------------------------------------------
  function readUrl() {
    const params = new URLSearchParams(location.search);
    const [sortKey, sortDir] = (params.get("sort") || "").split(":");
    const today = state.context.today;
    const [defaultStart, defaultEnd] = PRESETS["30d"](today);
    state.filters = {
      startDate: isDate(params.get("startDate")) ? params.get("startDate") : defaultStart,
      endDate: isDate(params.get("endDate")) ? params.get("endDate") : defaultEnd,
      project: params.get("project") || "",
      userId: params.get("userId") || "",
      granularity: ["day", "week", "month"].includes(params.get("granularity")) ? params.get("granularity") : "",
    };
    state.sort = V.COLUMNS.some((c) => c.key === sortKey)
      ? { key: sortKey, dir: sortDir === "asc" ? "asc" : "desc" } : V.DEFAULT_SORT;
  }

  function writeUrl(push) {
    const f = state.filters;
    const params = new URLSearchParams({ startDate: f.startDate, endDate: f.endDate });
    if (f.project) params.set("project", f.project);
    if (f.userId) params.set("userId", f.userId);
    if (f.granularity) params.set("granularity", f.granularity);
    if (state.sort.key !== V.DEFAULT_SORT.key || state.sort.dir !== V.DEFAULT_SORT.dir) {
      params.set("sort", `${state.sort.key}:${state.sort.dir}`);
    }
    const url = `${location.pathname}?${params}`;
    if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"](null, "", url);
  }

  function queryParams() {
    const f = state.filters;
    const params = { startDate: f.startDate, endDate: f.endDate };
    if (f.project) params.project = f.project;
    if (f.userId) params.userId = f.userId;
    return params;
  }

  // --- API ------------------------------------------------------------------------------------
  async function api(path, params, signal) {
    const url = `/${encodeURIComponent(WS)}/${path}?${new URLSearchParams(params || {})}`;
    let response;
    try {
      response = await fetch(url, { headers: { Authorization: "Bearer " + state.key, Accept: "application/json" },
                                    cache: "no-store", signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "unreachable", "The server could not be reached. Is annotation-insights still running?");
    }
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    if (!response.ok) {
      const err = (body && body.error) || {};
      throw new ApiError(response.status, err.code || "http_error", err.message || `HTTP ${response.status}`);
    }
    return body;
  }

  // --- sign-in ----------------------------------------------------------------------------------
  function showSignIn(message) {
    state.key = null;
    sessionStorage.removeItem(STORAGE);
    $("dashboard").hidden = true;
    $("sign-out").hidden = true;
    $("signin").hidden = false;
    $("signin-error").hidden = !message;
    $("signin-error").textContent = message || "";
    $("api-key").value = "";
    $("api-key").focus();
  }

  async function enter(key) {
    state.key = key;
    state.context = await api("insights/context");
    sessionStorage.setItem(STORAGE, key);
    const ws = state.context.workspace;
    $("workspace-name").textContent = ws.name === ws.slug ? ws.slug : `${ws.name} · ${ws.slug}`;
    $("workspace-tz").textContent = ws.timezone;
    document.title = `Annotation insights · ${ws.name}`;
    fillSelect($("project-filter"), "All projects", state.context.projects.map((p) => [p.slug, p.name]));
    fillSelect($("labeler-filter"), "All labelers", state.context.labelers.map(
      (l) => [l.id, l.displayName === l.id ? l.id : `${l.displayName} (${l.id})`]));
    $("start-date").min = $("end-date").min = state.context.availableFrom;
    $("signin").hidden = true;
    $("dashboard").hidden = false;
    $("dashboard").classList.add("first-load");
    V.renderKpiSkeleton($("kpis"));
    for (const id of ["chart-images", "chart-boxes", "chart-approval"]) C.empty($(id), "Loading…");
    $("sign-out").hidden = false;
    readUrl();
    syncControls();
    writeUrl(false);
    await load();
  }

  function fillSelect(select, allLabel, options) {
    select.replaceChildren(new Option(allLabel, ""));
    for (const [value, label] of options) select.appendChild(new Option(label, value));
  }

  function ensureOption(select, value) {
    if (value && ![...select.options].some((o) => o.value === value)) select.appendChild(new Option(value, value));
  }

  // --- controls -----------------------------------------------------------------------------------
  function syncControls() {
    const f = state.filters;
    $("start-date").value = f.startDate;
    $("end-date").value = f.endDate;
    ensureOption($("project-filter"), f.project);
    ensureOption($("labeler-filter"), f.userId);
    $("project-filter").value = f.project;
    $("labeler-filter").value = f.userId;
    const preset = presetOf(f.startDate, f.endDate);
    for (const button of document.querySelectorAll("[data-preset]")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === preset));
    }
    const granularity = f.granularity || autoGranularity(f.startDate, f.endDate);
    for (const button of document.querySelectorAll("[data-granularity]")) {
      button.setAttribute("aria-pressed", String(button.dataset.granularity === granularity));
    }
    const tz = state.context.workspace.timezone;
    const days = daysBetween(f.startDate, f.endDate) + 1;
    $("range-label").textContent = days > 0
      ? `${human(f.startDate, true)} – ${human(f.endDate, true)} · ${days} ${days === 1 ? "day" : "days"} · dates in ${tz}`
      : `${f.startDate} – ${f.endDate}`;
  }

  function change(update) {
    Object.assign(state.filters, update);
    syncControls();
    writeUrl(true);
    load();
  }

  function bindControls() {
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) { $("signin-error").hidden = false; $("signin-error").textContent = "Paste an API key first."; return; }
      $("signin-submit").disabled = true;
      $("signin-error").hidden = true;
      try { await enter(key); } catch (error) { showSignIn(signInMessage(error)); } finally { $("signin-submit").disabled = false; }
    });
    $("sign-out").addEventListener("click", () => showSignIn(""));
    for (const button of document.querySelectorAll("[data-preset]")) {
      button.addEventListener("click", () => {
        if (button.dataset.preset === "custom") { $("start-date").focus(); return; }
        const [startDate, endDate] = PRESETS[button.dataset.preset](state.context.today);
        change({ startDate, endDate });
      });
    }
    for (const id of ["start-date", "end-date"]) {
      $(id).addEventListener("change", () => {
        const startDate = $("start-date").value;
        const endDate = $("end-date").value;
        if (isDate(startDate) && isDate(endDate)) change({ startDate, endDate });
      });
    }
    $("project-filter").addEventListener("change", (e) => change({ project: e.target.value }));
    $("labeler-filter").addEventListener("change", (e) => change({ userId: e.target.value }));
    for (const button of document.querySelectorAll("[data-granularity]")) {
      button.addEventListener("click", () => change({ granularity: button.dataset.granularity }));
    }
    $("download-csv").addEventListener("click", downloadCsv);
    $("copy-api").addEventListener("click", copyApiCall);
    window.addEventListener("popstate", () => {
      if (!state.context) return;
      readUrl();
      syncControls();
      load();
    });
  }

  function signInMessage(error) {
    if (error.status === 401) return `That key was not accepted: ${error.message}`;
    if (error.status === 403) return `That key cannot open this dashboard: ${error.message}`;
    return error.message;
  }

  // --- loading ---------------------------------------------------------------------------------------
  async function load() {
    const seq = ++state.seq;
    if (state.controller) state.controller.abort();
    const controller = state.controller = new AbortController();
    const f = state.filters;
    const granularity = f.granularity || autoGranularity(f.startDate, f.endDate);
    const params = queryParams();
    $("dashboard").classList.add("loading");
    $("dashboard").setAttribute("aria-busy", "true");
    $("progress").hidden = false;
    try {
      const [stats, series] = await Promise.all([
        api("stats", params, controller.signal),
        api("stats/timeseries", Object.assign({ granularity, groupBy: "labeler" }, params), controller.signal),
      ]);
      if (seq !== state.seq) return;
      state.stats = stats;
      state.series = series;
      $("error-banner").hidden = true;
      $("dashboard").classList.remove("has-error");
      $("download-csv").disabled = false;
      render();
    } catch (error) {
      if (seq !== state.seq || error.name === "AbortError") return;
      if (error.status === 401) { showSignIn(signInMessage(error)); return; }
      state.stats = state.series = null;
      showError(error);
    } finally {
      if (seq === state.seq) {
        $("dashboard").classList.remove("loading", "first-load");
        $("dashboard").setAttribute("aria-busy", "false");
        $("progress").hidden = true;
      }
    }
  }

  function showError(error) {
    const banner = $("error-banner");
    banner.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = "Could not load insights. ";
    const detail = document.createElement("span");
    detail.textContent = error.status ? `${error.message} (HTTP ${error.status}, ${error.code})` : error.message;
    banner.append(title, detail);
    banner.hidden = false;
    $("notice-banner").hidden = true;
    $("dashboard").classList.add("has-error");
    $("download-csv").disabled = true;
    for (const id of ["kpis", "chart-images", "chart-boxes", "chart-approval", "legend-images", "legend-boxes"]) {
      $(id).replaceChildren();
    }
    for (const part of $("labelers-table").children) part.replaceChildren();
  }

  // --- rendering -------------------------------------------------------------------------------------
  function labelerNames() {
    const names = new Map(state.context.labelers.map((l) => [l.id, l.displayName]));
    for (const l of state.stats.labelers) names.set(l.id, l.displayName);
    for (const g of state.series.groups) names.set(g.id, g.name);
    return names;
  }

  /* The busiest labelers (by images labeled in range) get the palette; the rest share grey. */
  function labelerColors() {
    const ranked = [...state.series.total.groups].sort((a, b) => b.imagesLabeled - a.imagesLabeled || (a.id < b.id ? -1 : 1));
    const colored = ranked.length > MAX_COLORED + 1 ? ranked.slice(0, MAX_COLORED) : ranked;
    return { ranked, colors: new Map(colored.map((g, i) => [g.id, C.PALETTE[i % C.PALETTE.length]])) };
  }

  function render() {
    const { stats, series } = state;
    const names = labelerNames();
    const { ranked, colors } = labelerColors();
    const notices = stats.meta.notices.slice(1);
    $("notice-banner").hidden = !notices.length;
    $("notice-banner").textContent = notices.join(" ");
    V.renderKpis($("kpis"), stats.stats, series);
    renderCharts(names, ranked, colors);
    renderTable(names, colors);
    $("footnote").textContent = "Images labeled, marked null and model-assisted in the table count an image once per " +
      "session and add up; the Unique images, Marked null and Model-assisted tiles count each image once. " +
      `Every number comes from GET /${WS}/stats and /${WS}/stats/timeseries for this view.`;
  }

  function renderCharts(names, ranked, colors) {
    const { series } = state;
    const granularity = series.granularity;
    $("images-title").textContent = `Images labeled per ${granularity}`;
    $("boxes-title").textContent = `Boxes added vs removed per ${granularity}`;
    const labels = series.periods.map((p) => periodLabel(p, granularity));
    const titles = series.periods.map((p) => periodTitle(p, granularity));
    const periods = series.periods.map((p) => p.period);
    const active = state.stats.data.length > 0;
    const emptyText = "No labeling activity in this range.";

    const perPeriod = series.periods.map((p) => new Map(p.groups.map((g) => [g.id, g.imagesLabeled])));
    const stacks = ranked.filter((g) => colors.has(g.id) && g.imagesLabeled > 0).map((g) => ({
      id: g.id, name: names.get(g.id) || g.id, color: colors.get(g.id),
      values: perPeriod.map((m) => m.get(g.id) || 0) }));
    const rest = ranked.filter((g) => !colors.has(g.id) && g.imagesLabeled > 0);
    if (rest.length) {
      stacks.push({ id: "__other__", name: `${rest.length} other labelers`, color: C.OTHER,
                    values: perPeriod.map((m) => rest.reduce((sum, g) => sum + (m.get(g.id) || 0), 0)) });
    }
    if (active && stacks.length) {
      C.stackedBars($("chart-images"), { labels, titles, periods, series: stacks, totalName: "All labelers" });
      C.legend($("legend-images"), stacks);
    } else {
      C.empty($("chart-images"), emptyText);
      $("legend-images").replaceChildren();
    }

    const up = { id: "boxesAdded", name: "Boxes added", color: "#4e79a7", values: series.periods.map((p) => p.boxesAdded) };
    const down = { id: "boxesRemoved", name: "Boxes removed", color: "#e15759", values: series.periods.map((p) => p.boxesRemoved) };
    if (active && (series.total.boxesAdded || series.total.boxesRemoved)) {
      C.divergingBars($("chart-boxes"), { labels, titles, periods, up, down, netName: "Boxes drawn (net)",
                                          net: series.periods.map((p) => p.boxesDrawn) });
      C.legend($("legend-boxes"), [up, down]);
    } else {
      C.empty($("chart-boxes"), active ? "No boxes were added or removed in this range." : emptyText);
      $("legend-boxes").replaceChildren();
    }

    const reviewed = series.total.groups.filter((g) => g.approved + g.rejected > 0);
    // A big team gets the labelers with the most reviews; the table lists everyone.
    const shown = new Set([...series.total.groups].sort((a, b) => (b.approved + b.rejected) - (a.approved + a.rejected))
      .slice(0, MAX_RATE_ROWS).map((g) => g.id));
    $("approval-sub").textContent = shown.size < series.total.groups.length
      ? `The ${MAX_RATE_ROWS} labelers with the most reviews · line: whole team`
      : "Approved ÷ reviewed, in range · line: whole team";
    const rows = series.total.groups.filter((g) => shown.has(g.id)).sort((a, b) => {
      if (a.approvalRate === null || b.approvalRate === null) return a.approvalRate === null ? 1 : -1;
      return b.approvalRate - a.approvalRate || (a.id < b.id ? -1 : 1);
    }).filter((g) => g.approvalRate !== null || g.imagesLabeled > 0).map((g) => ({
      id: g.id, name: names.get(g.id) || g.id, value: g.approvalRate, color: colors.get(g.id) || C.OTHER,
      sub: g.approvalRate === null ? "no reviews" : `${V.count(g.approved)} of ${V.count(g.approved + g.rejected)} approved`,
      detail: [{ name: "Approved", value: V.count(g.approved) }, { name: "Rejected", value: V.count(g.rejected) },
               { name: "Approval rate", value: V.rate(g.approvalRate) }],
    }));
    if (reviewed.length) {
      C.rateBars($("chart-approval"), { rows, reference: series.total.approvalRate, referenceName: "Team" });
    } else {
      C.empty($("chart-approval"), active ? "No reviews in this range." : emptyText);
    }
  }

  function renderTable(names, colors) {
    const rows = V.sortRows(state.stats.data, state.sort, names);
    state.shownRows = rows;
    const f = state.filters;
    const wide = presetOf(f.startDate, f.endDate) !== "90d" && daysBetween(f.startDate, f.endDate) < 89;
    V.renderTable($("labelers-table"), rows, state.series.total, {
      names, colors, sort: state.sort,
      emptyHint: f.project || f.userId ? "Try removing the project or labeler filter, or a longer range."
                                       : "Try a longer date range.",
      onWiden: wide ? () => {
        const [startDate, endDate] = PRESETS["90d"](state.context.today);
        change({ startDate, endDate });
      } : null,
      onSort: (column) => {
        const dir = state.sort.key === column.key ? (state.sort.dir === "desc" ? "asc" : "desc")
                                                  : (column.text ? "asc" : "desc");
        state.sort = { key: column.key, dir };
        writeUrl(false);
        renderTable(names, colors);
      },
    });
    const count = rows.length;
    const workspaceId = rows.length ? rows[0].workspaceId : WS;
    $("table-caption").textContent =
      `One row per project and labeler · ${count} ${count === 1 ? "row" : "rows"} · workspace ${workspaceId}`;
  }

  // --- exports ------------------------------------------------------------------------------------------
  function downloadCsv() {
    if (!state.stats) return;
    const csv = V.toCsv(config.csvColumns, state.shownRows || []);
    const blob = new Blob([csv], { type: "text/csv;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${WS}-stats-${state.filters.startDate}-${state.filters.endDate}.csv`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    toast(`Downloaded ${link.download}`);
  }

  function apiCall() {
    const url = `${location.origin}/${WS}/stats?${new URLSearchParams(queryParams())}`;
    return `curl -H "Authorization: Bearer $ANNOTATION_INSIGHTS_KEY" '${url}'`;
  }

  async function copyApiCall() {
    const command = apiCall();
    $("copy-api").dataset.command = command;
    try {
      await navigator.clipboard.writeText(command);
      toast("Copied: " + command);
    } catch (error) {
      $("copy-text").value = command;
      $("copy-dialog").showModal();
      $("copy-text").select();
    }
  }

  let toastTimer = null;
  function toast(message) {
    $("toast").textContent = message;
    $("toast").hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { $("toast").hidden = true; }, 3500);
  }

  // --- start ------------------------------------------------------------------------------------------------
  bindControls();
  const saved = sessionStorage.getItem(STORAGE);
  if (saved) {
    enter(saved).catch((error) => showSignIn(signInMessage(error)));
  } else {
    showSignIn("");
  }
})();
