// denvme console page: live state from the console thread's event stream,
// cmdlog and utilities through its JSON API. Every request carries the token.
"use strict";
const token = document.querySelector('meta[name="denvme-token"]').content;
const mode = document.querySelector('meta[name="denvme-mode"]').content;
const withToken = (p) =>
  p + (p.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const hex = (v, w = 8) => "0x" + (v >>> 0).toString(16).padStart(w, "0");
let state = null;
let selectedSq = null;
const charts = {};

async function api(path, body) {
  const r = await fetch(
    withToken(path),
    body === undefined ? {} : {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  );
  return await r.json();
}

// --- tabs -------------------------------------------------------------------
function showTab() {
  const id = (location.hash || "#controllers").slice(1);
  for (const s of document.querySelectorAll("main > section")) {
    s.classList.toggle("active", s.id === id);
  }
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === "#" + id);
  }
  for (const c of Object.values(charts)) c.resize();
}
addEventListener("hashchange", showTab);

function table(head, rows, attrs = () => "") {
  return "<table><tr>" + head.map((h) => "<th>" + esc(h) + "</th>").join("") +
    "</tr>" +
    rows.map((r, i) =>
      "<tr " + attrs(i) + ">" + r.map((c) =>
        typeof c === "number"
          ? '<td class="num">' + c + "</td>"
          : "<td>" + c + "</td>"
      ).join("") + "</tr>"
    ).join("") + "</table>";
}

// --- renderers ----------------------------------------------------------------
function renderControllers() {
  const rows = state.controllers.map((c) => {
    const csts = c.registers?.find((r) => r.name === "CSTS");
    const rdy = csts ? csts.fields[0].value : "?";
    return [
      c.ctrl,
      esc(c.model),
      esc(c.serial),
      esc(c.firmware),
      esc(c.transport),
      esc(c.dut),
      c.closed
        ? '<span class="muted">closed</span>'
        : rdy === 1
        ? '<span class="good">ready</span>'
        : '<span class="bad">not ready</span>',
    ];
  });
  $("controllers").innerHTML = rows.length
    ? table([
      "ctrl",
      "model",
      "serial",
      "firmware",
      "transport",
      "device",
      "state",
    ], rows)
    : '<p class="muted">No controller open yet.</p>';
}

function renderRegisters() {
  let html = "";
  for (const c of state.controllers) {
    if (c.closed) continue;
    html += "<h2>Controller " + c.ctrl + " " + esc(c.model) + "</h2>";
    if (c.error) html += '<p class="bad">' + esc(c.error) + "</p>";
    for (const r of c.registers ?? []) {
      html += "<h3>" + esc(r.name) + " (" + hex(r.offset, 2) + ") " +
        esc(r.title) + ": <code>" + esc(r.hex) + "</code></h3>";
      html +=
        "<table><tr><th>field</th><th>bits</th><th>value</th><th>meaning</th></tr>" +
        r.fields.map((f) =>
          "<tr><td>" + esc(f.name) + "</td><td>" + esc(f.bits) +
          '</td><td class="num" data-reg="' + esc(r.name) +
          '" data-field="' + esc(f.name) + '">' + esc(f.value) + "</td><td>" +
          esc(f.text ?? "") + "</td></tr>"
        ).join("") + "</table>";
    }
  }
  $("registers").innerHTML = html || '<p class="muted">No live controller.</p>';
}

function renderQpairs() {
  const qs = state.queues;
  $("qpair-list").innerHTML = qs.length
    ? table(
      [
        "ctrl",
        "qid",
        "label",
        "depth",
        "outstanding",
        "SQ tail",
        "SQ head",
        "CQ head",
        "vector",
        "interrupt",
        "submitted",
        "completed",
        "timed out",
      ],
      qs.map((
        q,
      ) => [
        q.ctrl,
        q.qid,
        esc(q.label) + (q.ioworker ? " (ioworker)" : ""),
        q.depth,
        q.outstanding,
        q.sqTail,
        q.sqHead,
        q.cqHead,
        q.vector,
        q.ien ? (q.irqSet ? "enabled, set" : "enabled, clear") : "off",
        q.submitted,
        q.completed,
        q.timedOut,
      ]),
      (i) =>
        'data-sq="' + qs[i].sq + '"' +
        (qs[i].sq === selectedSq ? ' class="sel"' : ""),
    )
    : '<p class="muted">No queue.</p>';
}

async function refreshCmdlog() {
  if (selectedSq === null) return;
  const p = new URLSearchParams({ sq: selectedSq, n: 200 });
  if ($("f-opcode").value.trim()) p.set("opcode", $("f-opcode").value.trim());
  if ($("f-status").value) p.set("status", $("f-status").value);
  const r = await api("/api/cmdlog?" + p);
  if (r.error) {
    $("cmdlog").textContent = r.error;
    return;
  }
  $("cmdlog-title").textContent = "Cmdlog of " + r.queue.label + " (queue " +
    r.queue.qid + "), newest first, " + r.queue.logged + " logged";
  $("cmdlog").textContent = r.entries.map((e) => e.line).join("\n") ||
    "(no matching command)";
}

function chart(id) {
  if (!globalThis.echarts) return null;
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "svg" });
  return charts[id];
}

function renderIoworkers() {
  const ws = state.ioworkers;
  $("iow-list").innerHTML = ws.length
    ? table(
      [
        "ioworker",
        "qid",
        "qdepth",
        "state",
        "IOPS",
        "latency µs",
        "avg µs",
        "max µs",
        "completed",
        "reads",
        "writes",
        "seconds",
        "error",
      ],
      ws.map((
        w,
      ) => [
        esc(w.label),
        w.qid,
        w.qdepth,
        w.running ? '<span class="good">running</span>' : "done",
        '<span class="iops" data-iow="' + esc(w.label) + '">' + w.iops +
        "</span>",
        w.latencyUs,
        w.latencyAverageUs.toFixed(1),
        w.latencyMaxUs,
        w.completed,
        w.reads,
        w.writes,
        w.seconds.toFixed(1),
        w.error ? '<span class="bad">' + hex(w.error, 4) + "</span>" : "0",
      ]),
    )
    : '<p class="muted">No ioworker yet.</p>';
  const c = chart("iow-chart");
  if (!c || !ws.length) return;
  c.setOption({
    animation: false,
    title: {
      text: "IOPS and latency per ioworker",
      textStyle: { fontSize: 13 },
    },
    tooltip: { trigger: "axis" },
    legend: { top: 26 },
    grid: { top: 70, left: 70, right: 70 },
    xAxis: { type: "time" },
    yAxis: [{ type: "value", name: "IOPS" }, { type: "value", name: "µs" }],
    series: ws.flatMap((w) => [
      {
        name: w.label + " IOPS",
        type: "line",
        showSymbol: false,
        data: w.samples.map((s) => [s[0], s[1]]),
      },
      {
        name: w.label + " latency",
        type: "line",
        yAxisIndex: 1,
        showSymbol: false,
        lineStyle: { type: "dashed" },
        data: w.samples.map((s) => [s[0], s[2]]),
      },
    ]),
  }, true);
}

function renderEvents() {
  $("aer").innerHTML = state.aer.length
    ? "<tr><th>time</th><th>ctrl</th><th>CDW0</th><th>event</th></tr>" +
      state.aer.map((e) =>
        "<tr><td>" + new Date(e.t).toISOString() + "</td><td>" + e.ctrl +
        "</td><td><code>" + hex(e.cdw0) + "</code></td><td>" + esc(e.text) +
        "</td></tr>"
      ).join("")
    : '<tr><td class="muted">No asynchronous event so far.</td></tr>';
}

function renderSmart() {
  const c = chart("temp-chart");
  if (!c) return;
  const byCtrl = {};
  for (const [t, ctrl, degC] of state.temperature) {
    (byCtrl[ctrl] ??= []).push([t, degC]);
  }
  c.setOption({
    animation: false,
    title: {
      text:
        "SMART composite temperature (°C), sampled every 5 s while the console is open",
      textStyle: { fontSize: 13 },
    },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time" },
    yAxis: { type: "value", name: "°C", scale: true },
    series: Object.entries(byCtrl).map(([k, d]) => ({
      name: "ctrl " + k,
      type: "line",
      data: d,
    })),
  }, true);
}

function renderTests() {
  const t = state.tests;
  if (!t.harness) {
    $("tests").innerHTML =
      '<p class="muted">Not running under the test harness (nvmeTest).</p>';
    return;
  }
  $("tests").innerHTML = "<p>Current test: <b>" +
    esc(t.current?.name ?? "(between tests)") + "</b> " +
    (t.current
      ? '<span class="muted">' + esc(t.current.file) + " seed " +
        esc(t.current.seed) + "</span>"
      : "") +
    "</p>" +
    '<p><span class="good">' + t.passed + ' passed</span>, <span class="bad">' +
    t.failed + " failed</span>, " + t.skipped + " skipped, " + t.deviations +
    " known deviations</p>" +
    table(
      ["test", "outcome", "ms", "message"],
      t.recent.map((
        r,
      ) => [
        esc(r.name),
        r.outcome === "fail" ? '<span class="bad">fail</span>' : esc(r.outcome),
        r.ms ?? "",
        esc(r.message ?? ""),
      ]),
    );
}

function render() {
  $("status").textContent = "live, pid " + state.pid + ", " +
    new Date(state.time).toLocaleTimeString();
  renderControllers();
  renderRegisters();
  renderQpairs();
  renderIoworkers();
  renderEvents();
  renderSmart();
  renderTests();
  refreshCmdlog();
}

// --- utilities -------------------------------------------------------------
const UTILS = [
  { m: "identify", title: "Identify", fields: [["cns", 1], ["nsid", 0]] },
  {
    m: "logPage",
    title: "Log page",
    fields: [["lid", 2], ["size", 512], ["nsid", 0xffffffff]],
  },
  {
    m: "features",
    title: "Get Features",
    fields: [["fid", 7], ["sel", 0], ["cdw11", 0]],
  },
  {
    m: "setFeature",
    title: "Set Features",
    rw: true,
    fields: [["fid", 7], ["cdw11", 0], ["save", 0]],
  },
  {
    m: "format",
    title: "Format NVM",
    rw: true,
    fields: [["nsid", 1], ["lbaf", 0], ["ses", 0]],
  },
  { m: "sanitize", title: "Sanitize", rw: true, fields: [["sanact", 2]] },
  { m: "sanitizeStatus", title: "Sanitize progress", fields: [] },
  {
    m: "fwDownload",
    title: "Firmware download",
    rw: true,
    fields: [],
    file: true,
  },
  {
    m: "fwCommit",
    title: "Firmware commit",
    rw: true,
    fields: [["slot", 0], ["action", 1]],
  },
];

function buildUtilities() {
  $("utilities").innerHTML =
    (mode === "rw"
      ? ""
      : '<p class="muted">Read-only console: utilities that change the device need the script started with <code>--console=rw</code>.</p>') +
    UTILS.map((u) =>
      '<fieldset class="' + (u.rw ? "rw" : "") + '"><legend>' + u.title +
      "</legend>" +
      u.fields.map(([n, v]) =>
        "<label>" + n + ' <input data-u="' + u.m + '" name="' + n +
        '" value="' + v + '" size="10"></label> '
      ).join("") +
      (u.file ? '<input type="file" data-u="' + u.m + '" name="file"> ' : "") +
      '<button data-run="' + u.m + '">' + (u.rw ? "Run…" : "Run") +
      "</button></fieldset>"
    ).join("") +
    '<pre id="util-out">(results appear here)</pre>';
}

async function runUtility(m) {
  const u = UTILS.find((x) => x.m === m);
  const params = {};
  for (const el of document.querySelectorAll('input[data-u="' + m + '"]')) {
    if (el.type === "file") {
      const f = el.files[0];
      if (!f) {
        $("util-out").textContent = "choose a firmware file first";
        return;
      }
      const b = new Uint8Array(await f.arrayBuffer());
      let s = "";
      for (let i = 0; i < b.length; i += 0x8000) {
        s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      }
      params.image = btoa(s);
    } else params[el.name] = Number(el.value);
  }
  let confirmed = false;
  if (u.rw) {
    confirmed = confirm(
      u.title + " changes the device under test (" +
        JSON.stringify(params).slice(0, 200) + "). Go on?",
    );
    if (!confirmed) {
      $("util-out").textContent = u.title + ": cancelled";
      return;
    }
  }
  $("util-out").textContent = u.title + ": running…";
  const r = await api("/api/utility", {
    method: m,
    params,
    confirm: confirmed,
  });
  if (r.error) {
    $("util-out").textContent = u.title + ": REFUSED/FAILED: " + r.error;
  } else {
    const { lines, ...rest } = r.result ?? {};
    $("util-out").textContent = u.title + ":\n" +
      (Array.isArray(lines) ? lines.join("\n") + "\n\n" : "") +
      JSON.stringify(rest, null, 2);
  }
  if (m === "sanitize" && !r.error) pollSanitize();
}

async function pollSanitize() {
  for (let i = 0; i < 600; i++) {
    const r = await api("/api/utility", {
      method: "sanitizeStatus",
      params: {},
    });
    $("util-out").textContent = "Sanitize: " +
      (r.error
        ? r.error
        : r.result.statusText + ", " + r.result.progress + " %");
    if (r.error || r.result.status !== 2) return;
    await new Promise((res) => setTimeout(res, 1000));
  }
}

// --- wiring -----------------------------------------------------------------
$("qpair-list").addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-sq]");
  if (!tr) return;
  selectedSq = Number(tr.dataset.sq);
  for (const r of document.querySelectorAll("tr[data-sq]")) {
    r.classList.toggle("sel", r === tr);
  }
  refreshCmdlog();
});
$("f-opcode").addEventListener("change", refreshCmdlog);
$("f-status").addEventListener("change", refreshCmdlog);
$("utilities").addEventListener("click", (e) => {
  const m = e.target.dataset?.run;
  if (m) runUtility(m);
});
$("ns-refresh").addEventListener("click", async () => {
  const r = await api("/api/utility", { method: "namespaces", params: {} });
  $("ns-list").innerHTML = r.error
    ? '<p class="bad">' + esc(r.error) + "</p>"
    : table(
      [
        "nsid",
        "size (LBAs)",
        "capacity",
        "utilization",
        "LBA size",
        "metadata",
        "bytes",
      ],
      r.result.map((
        n,
      ) => [n.nsid, n.nsze, n.ncap, n.nuse, n.lbaSize, n.metadata, n.bytes]),
    );
});
$("smart-read").addEventListener("click", async () => {
  const r = await api("/api/utility", { method: "smart", params: {} });
  $("smart-out").textContent = r.error
    ? r.error
    : JSON.stringify(r.result, null, 2);
});

buildUtilities();
showTab();
const events = new EventSource(withToken("/api/events"));
events.onmessage = (e) => {
  state = JSON.parse(e.data);
  render();
};
events.onerror = () => {
  $("status").textContent = "disconnected (the script ended?)";
};
