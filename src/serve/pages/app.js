// bwv review pages: plain JavaScript over the JSON API (no build step). Every check is the
// server's; this file only hides controls a role cannot use. Text from the store is always set
// with textContent, never parsed as HTML.
"use strict";

const state = { me: null, csrf: null };
const CAN = {
  officer: ["flag"],
  reviewer: ["plan"],
  disclosure: ["flag", "hold", "sars", "sar_edit", "plan", "render"],
  auditor: ["sars", "verify"],
  admin: ["verify"],
};
const can = (what) => state.me && CAN[state.me.role].includes(what);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    // Through the CSSOM: the Content-Security-Policy refuses inline style attributes.
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function say(text, bad) {
  const s = document.getElementById("status");
  s.textContent = text || "";
  s.className = bad ? "bad" : "";
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["x-csrf-token"] = state.csrf;
  const r = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error((data.error && data.error.message) || r.statusText);
    e.status = r.status;
    e.code = data.error && data.error.code;
    throw e;
  }
  return data;
}

function show(...nodes) {
  document.getElementById("main").replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined));
}

function table(columns, rows, onclick) {
  return el("table", {},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c[0])))),
    el("tbody", {}, rows.map((row) => el("tr", onclick ? { class: "link", onclick: () => onclick(row) } : {},
      columns.map((c) => el("td", {}, c[1](row)))))));
}

function field(label, name, attrs) {
  return el("label", {}, label, el("input", Object.assign({ name }, attrs || {})));
}

function form(cls, fields, submit, onsubmit) {
  return el("form", { class: cls, onsubmit: async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(new FormData(ev.target).entries());
    try { await onsubmit(values, ev.target); } catch (e) { say(e.message, true); }
  } }, fields, el("button", { type: "submit" }, submit));
}

const seconds = (ns) => (ns / 1e9).toFixed(1) + " s";
const day = (t) => (t || "").slice(0, 10);

async function loginPage() {
  document.getElementById("nav").hidden = true;
  show(el("div", { class: "login" }, el("h1", {}, "Log in to bwv"),
    form("", [field("Name", "name", { autocomplete: "username", required: true, id: "name" }),
      field("Password", "password", { type: "password", autocomplete: "current-password", required: true, id: "password" })],
    "Log in", async (v) => {
      const r = await api("POST", "/api/login", { name: v.name, password: v.password });
      state.csrf = r.csrf;
      const next = new URLSearchParams(location.search).get("next");
      location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/recordings";
    })));
}

async function recordingsPage() {
  const params = new URLSearchParams(location.search);
  const filters = form("bar", [
    state.me.role === "officer" ? null : field("Officer", "officer", { value: params.get("officer") || "" }),
    field("Camera", "device", { value: params.get("device") || "" }),
    field("From", "from", { type: "date", value: params.get("from") || "" }),
    field("To", "to", { type: "date", value: params.get("to") || "" }),
    field("Case", "case", { value: params.get("case") || "" }),
    el("label", {}, "Flagged", el("input", { type: "checkbox", name: "flagged", value: "true", checked: params.get("flagged") === "true" })),
  ], "Search", (v) => {
    const q = new URLSearchParams(Object.entries(v).filter(([, x]) => x));
    location.search = q.toString();
  });
  const query = new URLSearchParams([...params].filter(([k, x]) => x && k !== "after"));
  const list = el("div", {});
  const more = el("button", { class: "plain", type: "button", hidden: true }, "More");
  let after = null;
  async function page() {
    const q = new URLSearchParams(query);
    q.set("limit", "50");
    if (after) q.set("after", after);
    const p = await api("GET", "/api/recordings?" + q);
    list.append(table([
      ["Recording", (r) => el("a", { href: "/recordings/" + r.id, class: "mono" }, r.id)],
      ["Recorded (UTC)", (r) => r.recorded_at],
      ["Officer", (r) => r.officer_id || "–"],
      ["Camera", (r) => r.device_id || "–"],
      ["Length", (r) => r.media ? seconds(r.media.duration_ns) : "–"],
      ["Status", (r) => el("span", { class: "pill" + (r.deletion ? " bad" : "") }, r.deletion ? "deleted" : r.status)],
      ["Dock file", (r) => r.source_name],
    ], p.items, (r) => { location.href = "/recordings/" + r.id; }));
    after = p.next;
    more.hidden = !after;
  }
  more.addEventListener("click", () => page().catch((e) => say(e.message, true)));
  show(el("h1", {}, "Recordings"), filters, list, more);
  await page();
}

async function recordingPage(id) {
  const data = await api("GET", "/api/recordings/" + encodeURIComponent(id));
  const r = data.recording;
  const has = (kind) => data.artefacts.some((a) => a.kind === kind);
  const media = r.media || {};
  const left = el("div", {},
    has("proxy") && !r.deletion ? el("video", { id: "player", controls: true, preload: "metadata", src: "/api/recordings/" + r.id + "/proxy" }) : el("p", { class: "quiet" }, "No playable copy."),
    has("contact_sheet") && !r.deletion ? el("img", { class: "sheet", alt: "contact sheet", src: "/api/recordings/" + r.id + "/contact-sheet" }) : null);
  const facts = el("dl", {},
    [["Status", r.deletion ? "deleted " + r.deletion.deleted_at : r.status + (data.damage ? " — damaged: " + data.damage : "")],
     ["Recorded (UTC)", r.recorded_at + " (" + r.recorded_at_source + ")"],
     ["Officer", r.officer_id || "–"], ["Camera", r.device_id || "–"],
     ["Dock file", r.source_name], ["Ingested", r.ingested_at],
     ["Length", media.duration_ns ? seconds(media.duration_ns) + ", " + media.frames + " frames" : "–"],
     ["Video", media.video_codec ? media.video_codec + " " + media.width + "×" + media.height : "–"],
     ["Master SHA-256", el("span", { class: "mono" }, r.master_sha256)]]
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const marks = data.marks.length ? table([
    ["Kind", (m) => m.kind], ["Reference", (m) => m.reference], ["Reason", (m) => m.reason],
    ["Placed", (m) => m.placed_by + " " + day(m.placed_at)],
    ["Released", (m) => m.released_at ? (m.released_by + " " + day(m.released_at)) : el("span", { class: "pill good" }, "active")],
  ], data.marks) : el("p", { class: "quiet", id: "no-marks" }, "Not flagged or held.");
  const actions = [];
  if (can("flag") && !r.deletion) {
    actions.push(el("h2", {}, "Flag as evidence"), form("bar", [field("Case", "case", { required: true, id: "flag-case" }), field("Reason", "reason", { required: true, id: "flag-reason" })],
      "Flag", async (v) => { await api("POST", "/api/recordings/" + r.id + "/flag", v); location.reload(); }));
  }
  if (can("hold") && !r.deletion) {
    actions.push(el("h2", {}, "Hold"), form("bar", [
      el("label", {}, "Kind", el("select", { name: "kind" }, ["complaint", "misconduct", "other"].map((k) => el("option", {}, k)))),
      field("Reference", "reference", { required: true }), field("Reason", "reason", { required: true })],
    "Hold", async (v) => { await api("POST", "/api/recordings/" + r.id + "/hold", v); location.reload(); }));
  }
  const events = table([
    ["#", (e) => e.seq], ["When (UTC)", (e) => e.at], ["What", (e) => e.kind], ["Who", (e) => e.actor_name || e.actor],
    ["Details", (e) => el("span", { class: "mono" }, Object.entries(e.fields).map(([k, v]) => k + "=" + v).join(" "))],
  ], data.events);
  const review = can("plan") && !r.deletion
    ? el("p", {}, el("a", { href: "/recordings/" + r.id + "/redact", id: "review-link" }, "Review redaction →")) : null;
  show(el("h1", {}, "Recording ", el("span", { class: "mono", id: "recording-id" }, r.id)), review,
    el("div", { class: "grid" }, left, el("div", {}, facts, el("h2", {}, "Flags and holds"), marks, actions)),
    el("h2", {}, "Custody events"), events);
}

async function sarsPage() {
  const p = await api("GET", "/api/sars");
  const today = new Date().toISOString().slice(0, 10);
  const open = can("sar_edit") ? [el("h2", {}, "Open a request"), form("bar", [
    field("Requester", "requester", { required: true }), field("Received", "received", { type: "date", required: true, value: today }),
    field("Incident time", "incident_time"), field("Location", "location")],
  "Open", async (v) => {
    const body = { requester: v.requester, received: v.received, incident_time: v.incident_time || null, location: v.location || null };
    const r = await api("POST", "/api/sars", body);
    location.href = "/sars/" + r.sar.id;
  })] : [];
  show(el("h1", {}, "Subject access requests"), table([
    ["Request", (s) => el("a", { href: "/sars/" + s.id }, s.id)], ["Requester", (s) => s.requester],
    ["Received", (s) => s.received], ["Deadline", (s) => s.deadline],
    ["State", (s) => s.closed_at ? el("span", { class: "pill" }, "closed") : el("span", { class: "pill" + (s.deadline < today ? " bad" : " good") }, s.deadline < today ? "overdue" : "open")],
  ], p.items, (s) => { location.href = "/sars/" + s.id; }), open);
}

async function sarPage(id) {
  const d = await api("GET", "/api/sars/" + encodeURIComponent(id));
  const s = d.sar;
  const daysLeft = Math.round((Date.parse(s.deadline) - Date.now()) / 864e5);
  const facts = el("dl", {}, [["Requester", s.requester], ["Received", s.received],
    ["Deadline", s.deadline + (s.closed_at ? "" : " (" + (daysLeft >= 0 ? daysLeft + " days left" : -daysLeft + " days overdue") + ")")],
    ["Incident", [s.incident_time, s.location].filter(Boolean).join(", ") || "–"],
    ["Opened", s.opened_by + " " + day(s.opened_at)], ["Closed", s.closed_at || "open"]]
    .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const edit = can("sar_edit") && !s.closed_at ? [
    el("h2", {}, "Link footage"), form("bar", [field("Recording", "recording", { required: true })], "Link",
      async (v) => { await api("POST", "/api/sars/" + s.id + "/link", v); location.reload(); }),
    el("h2", {}, "Close"), el("button", { type: "button", onclick: async () => {
      try { await api("POST", "/api/sars/" + s.id + "/close", {}); location.reload(); } catch (e) { say(e.message, true); }
    } }, "Close the request (releases its holds)")] : [];
  show(el("h1", {}, s.id), facts,
    el("h2", {}, "Linked footage"), table([
      ["Recording", (m) => el("a", { href: "/recordings/" + m.recording, class: "mono" }, m.recording)],
      ["Linked", (m) => m.placed_by + " " + day(m.placed_at)], ["Released", (m) => m.released_at || "–"]], d.linked),
    el("h2", {}, "Disclosures"), table([
      ["File SHA-256", (x) => el("span", { class: "mono" }, x.file_sha256)], ["Recipient", (x) => x.recipient],
      ["Basis", (x) => x.basis || "–"], ["By", (x) => x.disclosed_by], ["When", (x) => x.disclosed_at]], d.disclosures), edit);
}

/// A job's state for people: "running, 45% (27 of 60 frames)".
function jobText(j) {
  const p = j.progress;
  const part = p && p.total ? ", " + Math.floor(100 * p.done / p.total) + "% (" + p.done + " of " + p.total + " frames)" : "";
  return "job " + j.id + " " + j.state + part + (j.error ? ": " + j.error : "");
}

/// Polls a job until it ends; `shown` gets each state.
async function jobDone(job, shown) {
  for (;;) {
    const j = await api("GET", "/api/jobs/" + job.id);
    shown(j);
    if (["done", "failed", "dead"].includes(j.state)) return j;
    await new Promise((ok) => setTimeout(ok, 500));
  }
}

async function redactPage(id) {
  const base = "/api/recordings/" + encodeURIComponent(id);
  const plans = await api("GET", base + "/plans");
  const progress = el("p", { class: "quiet", id: "job" });
  const planButton = el("button", { type: "button", id: "plan", onclick: async () => {
    try {
      planButton.disabled = true;
      const q = await api("POST", base + "/plans", {});
      const j = await jobDone(q.job, (j) => { progress.textContent = "Planning: " + jobText(j); });
      if (j.state !== "done") throw new Error("planning " + j.state + ": " + (j.error || ""));
      location.reload();
    } catch (e) { say(e.message, true); planButton.disabled = false; }
  } }, plans.length ? "Plan again" : "Find faces (plan)");
  const head = [el("h1", {}, "Redaction review ", el("a", { href: "/recordings/" + id, class: "mono" }, id)), planButton, progress];
  if (!plans.length) { show(...head, el("p", { class: "quiet" }, "No plan yet.")); return; }
  const chosen = plans[plans.length - 1];
  const plan = await api("GET", base + "/plans/" + chosen.plan_sha256);
  const fps = plan.fps_num / plan.fps_den;
  const video = el("video", { id: "player", controls: true, preload: "auto", src: base + "/proxy" });
  const canvas = el("canvas", { id: "masked", width: plan.width, height: plan.height });
  const count = el("p", { class: "quiet", id: "count" });
  const slider = el("input", { type: "range", min: "0", max: "1", step: "0.05", value: "0", id: "score" });
  const kept = new Map();
  const boxes = [];
  const visible = () => plan.tracks.filter((t) => t.best_score >= Number(slider.value));
  // A kept track is visible on every frame, or only from..to (frames) when both are given.
  const range = (k) => (k.from !== "" && k.to !== "" ? [Number(k.from), Number(k.to)] : null);
  const shows = (id, f) => { const k = kept.get(id); if (!k) return false; const r = range(k); return !r || (f >= r[0] && f <= r[1]); };
  const frameAt = () => Math.min(plan.frames - 1, Math.floor(video.currentTime * fps + 1e-3));
  function draw() {
    const ctx = canvas.getContext("2d");
    const f = frameAt();
    ctx.filter = "none";
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    let n = 0;
    const regions = [];
    for (const t of visible()) {
      const b = f >= t.first_frame && f <= t.last_frame ? t.boxes[f - t.first_frame] : null;
      if (!b) continue;
      n++;
      if (!shows(t.id, f)) regions.push([b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0, true]);
    }
    const now = video.currentTime;
    for (const b of boxes) if (now >= b.from_s && now <= b.to_s) regions.push([b.x, b.y, b.w, b.h, false]);
    for (const [x, y, w, h, round] of regions) {
      ctx.save();
      ctx.beginPath();
      if (round) ctx.ellipse(x + w / 2, y + h / 2, w * 0.65, h * 0.65, 0, 0, 2 * Math.PI); else ctx.rect(x, y, w, h);
      ctx.clip();
      ctx.filter = "blur(16px)";
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      ctx.restore();
    }
    count.textContent = "Frame " + f + ": " + n + " face(s) detected, " + regions.length + " region(s) masked";
  }
  for (const ev of ["loadeddata", "seeked", "timeupdate"]) video.addEventListener(ev, draw);
  // Each track's crops, cut from the plan's preview sheet: a row per track in the plan's
  // order, 160 px tiles 4 px apart, its best crop first and then five of its face over time
  // (blank where it has fewer), so a reviewer sees whether the track follows one face.
  const sheet = base + "/plans/" + chosen.plan_sha256 + "/preview";
  function crop(t, column, size) {
    const i = plan.tracks.indexOf(t), k = size / 160;
    const x = 4 + column * 164, y = 4 + i * 164;
    const d = el("div", { class: "crop", title: "track " + t.id + (column ? " over time" : "") });
    d.style.width = d.style.height = size + "px";
    d.style.backgroundImage = "url(" + JSON.stringify(sheet) + ")";
    d.style.backgroundSize = ((6 * 164 + 4) * k) + "px auto";
    d.style.backgroundPosition = (-x * k) + "px " + (-y * k) + "px";
    return d;
  }
  const overTime = (t) => el("div", { class: "strip" }, [1, 2, 3, 4, 5].map((c) => crop(t, c, 32)));
  const rows = el("tbody", {});
  function timeline() {
    rows.replaceChildren(...visible().map((t) => {
      const left = (100 * t.first_frame / plan.frames).toFixed(2), width = Math.max(0.5, 100 * (t.last_frame - t.first_frame + 1) / plan.frames).toFixed(2);
      const reason = el("input", { placeholder: "reason", class: "keep-reason", value: (kept.get(t.id) || {}).reason || "" });
      const basis = el("input", { placeholder: "legal basis", class: "keep-basis", value: (kept.get(t.id) || {}).basis || "" });
      const num = (cls, hint) => el("input", { type: "number", min: "0", step: "1", placeholder: hint, class: cls, value: (kept.get(t.id) || {})[cls.slice(5)] || "" });
      const from = num("keep-from", "from frame (all)"), to = num("keep-to", "to frame");
      const now = () => ({ reason: reason.value, basis: basis.value, from: from.value, to: to.value });
      const box = el("input", { type: "checkbox", class: "keep", checked: kept.has(t.id), onchange: () => {
        if (box.checked) kept.set(t.id, now()); else kept.delete(t.id);
        timeline(); draw();
      } });
      const sync = () => { if (kept.has(t.id)) { kept.set(t.id, now()); draw(); } };
      for (const i of [reason, basis, from, to]) i.addEventListener("input", sync);
      return el("tr", { "data-track": t.id },
        el("td", {}, crop(t, 0, 56), el("a", { href: "#", onclick: (e) => { e.preventDefault(); video.currentTime = (t.first_frame + 0.5) / fps; } }, "#" + t.id)),
        el("td", { style: "width:50%" }, el("div", { class: "lane" }, el("span", { class: kept.has(t.id) ? "kept" : "", style: "left:" + left + "%;width:" + width + "%" })), overTime(t)),
        el("td", {}, t.best_score.toFixed(2)),
        el("td", {}, el("label", { class: "inline" }, box, "keep visible")),
        el("td", {}, kept.has(t.id) ? [reason, basis, from, to] : null));
    }));
  }
  slider.addEventListener("input", () => { timeline(); draw(); });
  timeline();
  const boxList = el("ul", { id: "boxes" });
  const num = { type: "number", step: "any", min: "0", required: true };
  const boxForm = form("bar", [field("x", "x", num), field("y", "y", num), field("w", "w", num), field("h", "h", num),
    field("from (s)", "from_s", num), field("to (s)", "to_s", num),
    field("Reason", "reason", { required: true }), field("Legal basis", "basis", { required: true })], "Add box", (v, f) => {
    const b = { x: +v.x, y: +v.y, w: +v.w, h: +v.h, from_s: +v.from_s, to_s: +v.to_s, reason: v.reason, basis: v.basis };
    boxes.push(b);
    boxList.append(el("li", {}, b.w + "×" + b.h + " at " + b.x + "," + b.y + ", " + b.from_s + "–" + b.to_s + " s: " + b.reason + " (" + b.basis + ")"));
    f.reset(); draw();
  });
  boxForm.id = "box-form";
  // Drag on the masked frame to draw a box: it fills the form (from the playhead, 2 s on).
  let from = null;
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * canvas.width / r.width, (ev.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("mousedown", (ev) => { from = at(ev); });
  canvas.addEventListener("mouseup", (ev) => {
    if (!from) return;
    const to = at(ev);
    const set = (n, v, unit) => { boxForm.elements[n].value = String(Math.round(v / unit) * unit); };
    set("x", Math.min(from[0], to[0]), 1); set("y", Math.min(from[1], to[1]), 1);
    set("w", Math.abs(to[0] - from[0]), 1); set("h", Math.abs(to[1] - from[1]), 1);
    set("from_s", video.currentTime, 0.01); set("to_s", Math.min(video.duration || 0, video.currentTime + 2), 0.01);
    from = null;
    boxForm.elements.reason.focus();
  });
  const result = el("div", { id: "rendered" });
  const render = can("render") ? [el("h2", {}, "Render"), el("button", { type: "button", id: "render", onclick: async () => {
    try {
      const keep = [...kept.entries()].map(([track, k]) => {
        const r = range(k);
        return r ? { track, from: r[0], to: r[1], reason: k.reason, basis: k.basis } : { track, reason: k.reason, basis: k.basis };
      });
      const q = await api("POST", base + "/render", { plan_sha256: chosen.plan_sha256, keep, boxes });
      const j = await jobDone(q.job, (j) => { progress.textContent = "Rendering: " + jobText(j); });
      if (j.state !== "done") throw new Error("render " + j.state + ": " + (j.error || ""));
      const sha = j.result.sha256;
      result.replaceChildren(el("p", {}, "Redacted copy ", el("span", { class: "mono", id: "copy-sha" }, sha)),
        el("video", { controls: true, src: base + "/redacted/" + sha }),
        el("h2", {}, "Disclose"), form("bar", [field("Request", "sar", { required: true, id: "sar" }), field("Recipient", "recipient", { required: true, id: "recipient" }),
          field("Legal basis", "basis", { required: true, id: "basis", value: "UK GDPR Art. 15 (subject access)" })],
          "Disclose", async (v) => {
            const d = await api("POST", "/api/sars/" + encodeURIComponent(v.sar) + "/disclose", { recording: id, file_sha256: sha, recipient: v.recipient, basis: v.basis, unredacted_reason: null });
            result.append(el("p", { id: "disclosed" }, "Disclosed to " + d.disclosure.recipient + " (event " + d.event.seq + ")"));
          }));
    } catch (e) { say(e.message, true); }
  } }, "Render the redacted copy"), result] : [];
  show(...head,
    el("p", { class: "quiet" }, "Plan " + chosen.plan_sha256.slice(0, 16) + "… by " + chosen.planned_by + ", " + plan.tracks.length + " track(s), " + plan.frames + " frames"),
    el("div", { class: "pair" }, el("div", {}, el("h2", {}, "Recording"), video),
      el("div", {}, el("h2", {}, "Masked at the playhead"), canvas)), count,
    el("div", { class: "bar" }, el("label", {}, "Lowest score shown", slider),
      el("img", { class: "crops", alt: "track crops", src: base + "/plans/" + chosen.plan_sha256 + "/preview" })),
    el("h2", {}, "Tracks"), el("table", { id: "tracks" }, el("thead", {}, el("tr", {}, ["Track", "Frames", "Best score", "Requester?", "Why"].map((h) => el("th", {}, h)))), rows),
    el("h2", {}, "Extra boxes"), el("p", { class: "quiet" }, "Drag on the masked frame to draw one, or type it."), boxForm, boxList, render);
}

async function boot() {
  const path = location.pathname;
  if (path === "/login") return loginPage();
  let me;
  try { me = await api("GET", "/api/me"); } catch (e) {
    if (e.status === 401) { location.href = "/login?next=" + encodeURIComponent(path + location.search); return; }
    throw e;
  }
  state.me = me.account;
  state.csrf = me.csrf;
  document.getElementById("who").textContent = me.account.name + " (" + me.account.role + ")";
  document.querySelectorAll("[data-needs]").forEach((n) => { n.hidden = !can(n.dataset.needs); });
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout", {}).catch(() => {});
    location.href = "/login";
  });
  let m;
  if (path === "/" || path === "/recordings") return recordingsPage();
  if ((m = path.match(/^\/recordings\/([^/]+)$/))) return recordingPage(decodeURIComponent(m[1]));
  if ((m = path.match(/^\/recordings\/([^/]+)\/redact$/))) return redactPage(decodeURIComponent(m[1]));
  if (path === "/sars") return sarsPage();
  if ((m = path.match(/^\/sars\/([^/]+)$/))) return sarPage(decodeURIComponent(m[1]));
  show(el("h1", {}, "Not found"));
}

document.addEventListener("DOMContentLoaded", () => {
  boot().then(() => { document.body.dataset.ready = "true"; })
    .catch((e) => { say(e.message, true); document.body.dataset.ready = "error"; });
});
