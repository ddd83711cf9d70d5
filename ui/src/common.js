// What the router's dashboard and socket-guard's decisions page share (loaded before each
// page's app.js): building elements, tables, search, tabs, the live mark and the theme. Text
// that comes from outside (labels, paths, client names) goes into the page as text, never as
// markup. Each page defines `render()`, called when the tab or the search changes.
"use strict";

let searchText = "";

// h("td", {class: "ok"}, "text", node, ...): an element whose children are text or nodes.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v; else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const code = (s) => (s ? h("code", null, s) : "");

// Whether any field contains the search box's text.
function matches(...fields) {
  return !searchText || fields.some((f) => String(f ?? "").toLowerCase().includes(searchText));
}

// A table of `rows` under `headings` (on a phone each row is a card whose cells name their
// column), or `empty` when there is no row.
function table(headings, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty || "Nothing here.");
  for (const row of rows) {
    [...row.children].forEach((td, i) => td.setAttribute("data-label", headings[i] || ""));
  }
  return h("div", { class: "scroll" },
    h("table", null, h("thead", null, h("tr", null, headings.map((t) => h("th", null, t)))),
      h("tbody", null, rows)));
}

// Shows the section the location's hash names (else `fallback`), marks its tab; its id.
function showTab(sections, fallback) {
  const id = location.hash.slice(1);
  const shown = sections.includes(id) ? id : fallback;
  for (const s of sections) document.getElementById(s).hidden = s !== shown;
  for (const a of document.querySelectorAll("#tabs a")) {
    if (a.getAttribute("href") === "#" + shown) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  return shown;
}

function setLive(on, text) {
  const el = document.getElementById("live");
  el.className = "live " + (on ? "on" : "off");
  el.textContent = text;
}

function theme(next) {
  if (next) localStorage.setItem("theme", next);
  const t = localStorage.getItem("theme");
  if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
}

window.addEventListener("hashchange", () => render());
document.getElementById("search").addEventListener("input", (e) => {
  searchText = e.target.value.trim().toLowerCase();
  render();
});
document.getElementById("theme").addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme === "dark"
    || (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  theme(dark ? "light" : "dark");
});
theme();
