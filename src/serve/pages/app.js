// bwv review pages: plain JavaScript over the JSON API (no build step). Every check is the
// server's; this file only hides controls a role cannot use. Text from the store is always set
// with textContent, never parsed as HTML.
"use strict";

const state = { me: null, csrf: null };
const CAN = {
  officer: ["flag"],
  reviewer: [],
  disclosure: ["flag", "hold", "sars", "sar_edit"],
  auditor: ["sars", "verify"],
  admin: ["verify"],
};
const can = (what) => state.me && CAN[state.me.role].includes(what);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
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
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
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
    [["Status", r.deletion ? "deleted " + r.deletion.deleted_at : r.status],
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
    ["#", (e) => e.seq], ["When (UTC)", (e) => e.at], ["What", (e) => e.kind], ["Who", (e) => e.actor],
    ["Details", (e) => el("span", { class: "mono" }, Object.entries(e.fields).map(([k, v]) => k + "=" + v).join(" "))],
  ], data.events);
  show(el("h1", {}, "Recording ", el("span", { class: "mono", id: "recording-id" }, r.id)),
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
      ["By", (x) => x.disclosed_by], ["When", (x) => x.disclosed_at]], d.disclosures), edit);
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
  if (path === "/sars") return sarsPage();
  if ((m = path.match(/^\/sars\/([^/]+)$/))) return sarPage(decodeURIComponent(m[1]));
  show(el("h1", {}, "Not found"));
}

document.addEventListener("DOMContentLoaded", () => {
  boot().then(() => { document.body.dataset.ready = "true"; })
    .catch((e) => { say(e.message, true); document.body.dataset.ready = "error"; });
});
