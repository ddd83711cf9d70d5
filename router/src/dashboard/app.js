// The router's dashboard: reads Traefik's API (`api/...`) and this router's additions
// (`api/x/...`) next to it, relative to where the page is served, so it works behind a path
// prefix too. Every text from the API (labels are written by whoever starts a container) goes
// into the page as text, never as markup.
"use strict";

const api = (path) => new URL("../" + path, location.href).toString();
const sections = ["overview", "routers", "services", "middlewares", "tcp", "certificates", "issues", "tester"];
const data = { generation: -1 };

const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
const list = (xs) => (xs || []).join(", ");
const pill = (status) => {
  const cls = { enabled: "ok", up: "ok", UP: "ok", warning: "warn", disabled: "bad", DOWN: "bad", error: "bad" }[status] || "warn";
  return h("span", { class: "pill " + cls }, status);
};

async function getJSON(path) {
  const r = await fetch(api(path), { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { msg = (await r.json()).message || msg; } catch (_) { /* not JSON */ }
    throw new Error(path + ": " + msg);
  }
  return r.json();
}

// Every page of a Traefik list (its pagination: X-Next-Page, which is 1 after the last).
async function getAll(path) {
  const out = [];
  for (let page = 1; ; ) {
    const r = await fetch(api(path + "?per_page=500&page=" + page), { cache: "no-store" });
    if (!r.ok) throw new Error(path + ": " + r.status);
    out.push(...(await r.json()));
    const next = parseInt(r.headers.get("X-Next-Page") || "1", 10);
    if (!(next > page)) return out;
    page = next;
  }
}

async function refresh() {
  const [overview, entrypoints, routers, services, middlewares, tcpRouters, tcpServices, udpRouters, udpServices, state] =
    await Promise.all([
      getJSON("api/overview"), getJSON("api/entrypoints"), getAll("api/http/routers"),
      getAll("api/http/services"), getAll("api/http/middlewares"), getAll("api/tcp/routers"),
      getAll("api/tcp/services"), getAll("api/udp/routers"), getAll("api/udp/services"),
      getJSON("api/x/state"),
    ]);
  Object.assign(data, { overview, entrypoints, routers, services, middlewares, tcpRouters, tcpServices, udpRouters, udpServices, state });
  data.generation = state.generation;
  render();
}

function counts(title, c, href) {
  return h("div", { class: "card" }, h("h3", null, h("a", { href }, title)),
    h("div", { class: "big" }, c.total),
    h("div", null, h("span", { class: c.warnings ? "warn" : "muted" }, plural(c.warnings, "warning")), " · ",
      h("span", { class: c.errors ? "bad" : "muted" }, plural(c.errors, "error"))));
}

function renderOverview() {
  const o = data.overview, s = data.state;
  const soon = s.certificates.filter((c) => c.secondsLeft < 30 * 86400).length;
  const errors = s.issues.filter((i) => i.level === "error").length;
  return [
    h("h2", null, "Entry points"),
    table(["Name", "Address"], data.entrypoints.filter((e) => matches(e.name, e.address))
      .map((e) => h("tr", null, h("td", null, e.name), h("td", null, code(e.address))))),
    h("h2", null, "At a glance"),
    h("div", { class: "cards" },
      counts("HTTP routers", o.http.routers, "#routers"),
      counts("HTTP services", o.http.services, "#services"),
      counts("HTTP middlewares", o.http.middlewares, "#middlewares"),
      counts("TCP routers", o.tcp.routers, "#tcp"),
      counts("UDP routers", o.udp.routers, "#tcp"),
      h("div", { class: "card" }, h("h3", null, h("a", { href: "#issues" }, "Label and file issues")),
        h("div", { class: "big " + (errors ? "bad" : "") }, s.issues.length),
        h("div", { class: "muted" }, errors === 1 ? "1 disables something" : errors + " disable something")),
      h("div", { class: "card" }, h("h3", null, h("a", { href: "#certificates" }, "Certificates")),
        h("div", { class: "big" }, s.certificates.length),
        h("div", { class: soon ? "warn" : "muted" }, soon + " expire within 30 days"))),
    h("h2", null, "Providers"),
    h("p", null, (o.providers || []).join(", ") || "none"),
  ];
}

function renderRouters() {
  const src = data.state.sources;
  const rows = data.routers.filter((r) => matches(r.name, r.rule, r.service, list(r.entryPoints), list(src[r.name])))
    .map((r) => h("tr", { "data-router": r.name },
      h("td", null, pill(r.status)),
      h("td", null, r.name),
      h("td", null, code(r.rule)),
      h("td", null, list(r.entryPoints)),
      h("td", null, list(r.middlewares)),
      h("td", null, r.service),
      h("td", null, r.tls ? [r.tls.certResolver ? "ACME " + r.tls.certResolver : "TLS", r.tls.options ? " · " + r.tls.options : ""] : ""),
      h("td", null, r.provider, (src[r.name] || []).length ? h("div", { class: "muted" }, list(src[r.name])) : ""),
      h("td", { class: "bad" }, (r.error || []).join("; "))));
  return [h("h2", null, "HTTP routers"),
    table(["Status", "Name", "Rule", "Entry points", "Middlewares", "Service", "TLS", "Defined by", "Errors"], rows)];
}

function percent(n, d) { return d ? (100 * n / d).toFixed(n && n < d / 100 ? 2 : 0) + "%" : "–"; }

function renderServices() {
  const byService = {};
  for (const b of data.state.backends) (byService[b.service] ||= []).push(b);
  const rows = data.services.filter((s) => matches(s.name, s.type, list((byService[s.name] || []).map((b) => b.url + " " + (b.container || "")))))
    .map((s) => {
      const backends = byService[s.name] || [];
      const detail = backends.length
        ? h("table", { class: "inner" }, backends.map((b) => h("tr", null,
          h("td", null, pill(b.health)),
          h("td", null, code(b.url || "(no address)"), b.container ? h("div", { class: "muted" }, b.container) : ""),
          h("td", null, b.inFlight + " in flight"),
          h("td", { class: b.recent.errors ? "bad" : "muted", title: "errors / requests over the last " + Math.round(b.recent.seconds) + " s" },
            b.recent.requests ? percent(b.recent.errors, b.recent.requests) + " errors of " + b.recent.requests : "no requests"))))
        : h("span", { class: "muted" }, s.type === "loadbalancer" ? "no server" : list(Object.keys(s.serverStatus || {})));
      return h("tr", null, h("td", null, pill(s.status)), h("td", null, s.name), h("td", null, s.type),
        h("td", null, detail), h("td", null, list(s.usedBy)));
    });
  return [h("h2", null, "HTTP services"), table(["Status", "Name", "Type", "Servers", "Used by"], rows)];
}

function renderMiddlewares() {
  const rows = data.middlewares.filter((m) => matches(m.name, m.type))
    .map((m) => h("tr", null, h("td", null, pill(m.status)), h("td", null, m.name), h("td", null, m.type),
      h("td", null, list(m.usedBy)), h("td", { class: "bad" }, (m.error || []).join("; "))));
  return [h("h2", null, "HTTP middlewares"), table(["Status", "Name", "Type", "Used by", "Errors"], rows)];
}

function renderTcp() {
  const routerRows = (rs) => rs.filter((r) => matches(r.name, r.rule, r.service))
    .map((r) => h("tr", null, h("td", null, pill(r.status)), h("td", null, r.name), h("td", null, code(r.rule)),
      h("td", null, list(r.entryPoints)), h("td", null, r.service),
      h("td", null, r.tls ? (r.tls.passthrough ? "passthrough" : "terminated") : ""),
      h("td", { class: "bad" }, (r.error || []).join("; "))));
  const serviceRows = (ss) => ss.filter((s) => matches(s.name))
    .map((s) => h("tr", null, h("td", null, pill(s.status)), h("td", null, s.name),
      h("td", null, list(((s.loadBalancer || {}).servers || []).map((x) => x.address))), h("td", null, list(s.usedBy))));
  return [
    h("h2", null, "TCP routers"), table(["Status", "Name", "Rule", "Entry points", "Service", "TLS", "Errors"], routerRows(data.tcpRouters)),
    h("h2", null, "TCP services"), table(["Status", "Name", "Servers", "Used by"], serviceRows(data.tcpServices)),
    h("h2", null, "UDP routers"), table(["Status", "Name", "Rule", "Entry points", "Service", "TLS", "Errors"], routerRows(data.udpRouters)),
    h("h2", null, "UDP services"), table(["Status", "Name", "Servers", "Used by"], serviceRows(data.udpServices)),
  ];
}

function renderCertificates() {
  const day = 86400;
  const rows = data.state.certificates.filter((c) => matches(c.store, list(c.names)))
    .sort((a, b) => a.notAfter - b.notAfter)
    .map((c) => h("tr", null, h("td", null, list(c.names)), h("td", null, c.store),
      h("td", null, new Date(c.notAfter * 1000).toISOString().slice(0, 10)),
      h("td", { class: c.secondsLeft < 7 * day ? "bad" : c.secondsLeft < 30 * day ? "warn" : "ok" },
        c.secondsLeft ? Math.floor(c.secondsLeft / day) + " days" : "expired")));
  return [h("h2", null, "Certificates"),
    table(["Names", "From", "Expires", "Left"], rows, "No certificate loaded (names without one get a self-signed certificate).")];
}

function renderIssues() {
  const groups = {};
  for (const i of data.state.issues.filter((i) => matches(i.source, i.key, i.message))) (groups[i.source] ||= []).push(i);
  const out = [h("h2", null, "Label and file issues")];
  const names = Object.keys(groups).sort();
  if (!names.length) out.push(h("p", { class: "muted" }, "No issue: every label and file key was understood."));
  for (const source of names) {
    out.push(h("h3", null, source), table(["Level", "Key", "Message"], groups[source].map((i) =>
      h("tr", { class: "issue" }, h("td", null, pill(i.level)), h("td", null, code(i.key)), h("td", null, i.message)))));
  }
  return out;
}

const renderers = { overview: renderOverview, routers: renderRouters, services: renderServices, middlewares: renderMiddlewares,
  tcp: renderTcp, certificates: renderCertificates, issues: renderIssues };

function render() {
  const shown = showTab(sections, "overview");
  if (data.state && renderers[shown]) document.getElementById(shown).replaceChildren(...renderers[shown]());
  const sel = document.getElementById("match-ep");
  if (data.entrypoints && sel.options.length === 1) {
    for (const e of data.entrypoints) sel.append(h("option", { value: e.name }, e.name));
  }
  if (data.state) {
    document.getElementById("status-line").textContent = "Table generation " + data.state.generation
      + (data.state.synced ? "" : " (providers not all heard from yet)") + " · updated " + new Date().toLocaleTimeString();
  }
}

// Follows the table: a tiny generation check often, everything when it moved (and every few
// seconds anyway, for backends' health and error rates).
async function follow() {
  let last = 0;
  for (;;) {
    try {
      const g = (await getJSON("api/x/generation")).generation;
      if (g !== data.generation || Date.now() - last > 5000) {
        await refresh();
        last = Date.now();
      }
      setLive(true, "live");
    } catch (e) {
      setLive(false, "disconnected");
      document.getElementById("status-line").textContent = String(e.message || e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function lookUp(ev) {
  ev.preventDefault();
  const out = document.getElementById("match-result");
  const q = new URLSearchParams();
  q.set("url", document.getElementById("match-url").value);
  q.set("method", document.getElementById("match-method").value);
  const ep = document.getElementById("match-ep").value;
  if (ep) q.set("entryPoint", ep);
  for (const line of document.getElementById("match-headers").value.split("\n")) {
    if (line.trim()) q.append("header", line.trim());
  }
  try {
    const r = await getJSON("api/x/match?" + q.toString());
    out.replaceChildren(table(["Entry point", "Router", "Rule", "Service", "Middlewares"], r.matches.map((m) =>
      h("tr", { "data-match": m.router || "" }, h("td", null, m.entryPoint),
        h("td", { class: m.router ? "ok" : "muted" }, m.router || "no router (404)"),
        h("td", null, code(m.rule)), h("td", null, m.service || ""), h("td", null, list(m.middlewares))))));
  } catch (e) {
    out.replaceChildren(h("p", { class: "bad" }, String(e.message || e)));
  }
}

document.getElementById("match-form").addEventListener("submit", lookUp);
render();
follow();
