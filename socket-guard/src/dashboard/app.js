// socket-guard's decisions page: reads `../decisions` (relative, so it works behind a path
// prefix). Paths and client names come from whoever talks to the guard: they go into the page
// as text, never as markup.
"use strict";

const sections = ["refused", "recent", "counts", "policy"];
let data = null;

const pill = (d) => h("span", { class: "pill " + ({ allow: "ok", learn: "warn" }[d] || "bad") }, d);

// The variables that would allow it, each with a button that copies it.
function allowWith(d) {
  if (!d.allowWith.length) return h("span", { class: "muted" }, d.endpoint === "unknown" ? "not a Docker API endpoint" : "no variable allows it");
  return d.allowWith.map((alt, i) => h("div", { class: "fix" }, i ? "or " : "", code(alt),
    h("button", { type: "button", class: "copy", "data-copy": alt.split(" ").join("\n"), title: "Copy" }, "Copy")));
}

function when(ms) { return new Date(ms).toLocaleTimeString(); }

function renderRefused() {
  const refused = data.recent.filter((d) => d.decision !== "allow" && d.decision !== "learn")
    .filter((d) => matches(d.client, d.method, d.path, d.endpoint, d.reason));
  return [h("h2", null, "Refused requests"),
    h("p", { class: "note" }, "The newest first. Set the variable shown (in socket-guard's environment) to allow that endpoint; prefer the narrowest."),
    table(["When", "Client", "Request", "Endpoint", "Status", "Why", "Allow with"], refused.map((d) =>
      h("tr", { class: "refused", "data-endpoint": d.endpoint }, h("td", null, when(d.at)), h("td", null, d.client),
        h("td", null, code(d.method + " " + d.path)), h("td", null, d.endpoint), h("td", null, d.status),
        h("td", null, d.reason), h("td", null, allowWith(d)))), "Nothing refused lately.")];
}

function renderRecent() {
  const rows = data.recent.filter((d) => matches(d.client, d.method, d.path, d.endpoint, d.decision, d.reason));
  return [h("h2", null, "Recent decisions"),
    table(["When", "Client", "Request", "Endpoint", "Decision", "Status", "Reason"], rows.map((d) =>
      h("tr", null, h("td", null, when(d.at)), h("td", null, d.client), h("td", null, code(d.method + " " + d.path)),
        h("td", null, d.endpoint), h("td", null, pill(d.decision)), h("td", null, d.status), h("td", null, d.reason))),
    "No request yet.")];
}

function renderCounts() {
  const rows = data.counts.filter((c) => matches(c.client, c.endpoint, c.decision))
    .sort((a, b) => b.count - a.count);
  return [h("h2", null, "Requests per client and endpoint, since start"),
    table(["Client", "Endpoint", "Decision", "Requests"], rows.map((c) =>
      h("tr", null, h("td", null, c.client), h("td", null, c.endpoint), h("td", null, pill(c.decision)), h("td", null, c.count))),
    "No request yet.")];
}

const renderers = { refused: renderRefused, recent: renderRecent, counts: renderCounts };

function render() {
  const shown = showTab(sections, "refused");
  if (!data) return;
  if (renderers[shown]) document.getElementById(shown).replaceChildren(...renderers[shown]());
  document.getElementById("policy-text").textContent = data.policy;
  document.getElementById("status-line").textContent = data.recent.length + " recent decisions · updated " + new Date().toLocaleTimeString();
}

async function follow() {
  for (;;) {
    try {
      const r = await fetch(new URL("../decisions", location.href), { cache: "no-store" });
      if (!r.ok) throw new Error("decisions: " + r.status);
      data = await r.json();
      setLive(true, "live");
      render();
    } catch (e) {
      setLive(false, "disconnected");
      document.getElementById("status-line").textContent = String(e.message || e);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

document.addEventListener("click", async (e) => {
  const b = e.target.closest("button.copy");
  if (!b) return;
  try {
    await navigator.clipboard.writeText(b.dataset.copy);
    b.textContent = "Copied";
  } catch (_) {
    // No clipboard (an insecure origin): the variable is selected instead, ready to copy.
    getSelection().selectAllChildren(b.previousElementSibling);
    b.textContent = "Selected";
  }
});
render();
follow();
