// kgfm serve page: ask a question, list the ranked answers, draw the evidence paths as a layered SVG
// graph (topic -> intermediate entities -> answers, relation names on the edges), show the Cypher.
// Plain DOM + SVG, no dependencies, works offline. Every value from the server goes in via textContent.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function label(id, name) { return name || id; }
function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

// ---- the evidence graph ---------------------------------------------------------------------
// Layers: an entity's layer is its earliest position on an evidence path (the topic is layer 0), so
// the graph reads left to right topic -> intermediate entities -> answers; an answer with no path
// goes to the last layer. Edges are deduplicated by (head, relation, tail) and point the KG's way.
function buildGraph(result) {
  const nodes = new Map();
  const edges = new Map();
  const paths = result.answers.flatMap((a) => a.paths || []);
  const depth = Math.max(1, ...paths.map((p) => p.rels.length));
  const answerRank = new Map(result.answers.map((a, i) => [a.id, i]));
  const kind = (id) => (id === result.topic.id ? "topic" : answerRank.has(id) ? "answer" : "mid");
  const add = (id, name, layer) => {
    const seen = nodes.get(id);
    if (!seen) nodes.set(id, { id, name, layer, kind: kind(id), order: nodes.size });
    else seen.layer = Math.min(seen.layer, layer);
  };
  add(result.topic.id, result.topic.name, 0);
  for (const p of paths) {
    p.nodes.forEach((id, i) => add(id, p.names[i], i));
    p.rels.forEach((rel, i) => {
      const [head, tail] = p.directions[i] > 0 ? [p.nodes[i], p.nodes[i + 1]] : [p.nodes[i + 1], p.nodes[i]];
      edges.set(`${head}\u0000${rel}\u0000${tail}`, { head, tail, rel });
    });
  }
  result.answers.forEach((a) => add(a.id, a.name, depth));
  return { nodes: [...nodes.values()], edges: [...edges.values()], depth, answerRank };
}

function drawGraph(result) {
  const { nodes, edges, depth, answerRank } = buildGraph(result);
  const width = Math.max(560, $("graph").clientWidth || 700);
  const boxW = 150, boxH = 30, rowH = 50, pad = 16;
  const layers = [];
  for (const n of nodes) (layers[n.layer] = layers[n.layer] || []).push(n);
  const rows = Math.max(...layers.filter(Boolean).map((l) => l.length));
  const height = pad * 2 + rows * rowH;
  const colW = depth > 0 ? (width - 2 * pad - boxW) / depth : 0;
  const pos = new Map();
  layers.forEach((layer, li) => {
    if (!layer) return;
    layer.sort((a, b) => (answerRank.get(a.id) ?? 1e9) - (answerRank.get(b.id) ?? 1e9) || a.order - b.order);
    const top = (height - layer.length * rowH) / 2;
    layer.forEach((n, i) => pos.set(n.id, { x: pad + li * colW, y: top + i * rowH + (rowH - boxH) / 2 }));
  });
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                          "aria-label": "evidence graph" }, null, SVG);
  const defs = el("defs", {}, null, SVG);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
                                markerHeight: 7, orient: "auto-start-reverse" }, null, SVG);
  marker.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9ca3af" }, null, SVG));
  defs.appendChild(marker);
  svg.appendChild(defs);
  for (const e of edges) {
    const a = pos.get(e.head), b = pos.get(e.tail);
    if (!a || !b) continue;
    const forward = a.x <= b.x;
    const [x1, x2] = forward ? [a.x + boxW, b.x] : [a.x, b.x + boxW];
    const y1 = a.y + boxH / 2, y2 = b.y + boxH / 2, mx = (x1 + x2) / 2;
    const g = el("g", { class: "edge", "data-head": e.head, "data-rel": e.rel, "data-tail": e.tail }, null, SVG);
    g.appendChild(el("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)" }, null, SVG));
    // label at the curve's midpoint, lifted a little off the line
    const lx = mx, ly = (y1 + y2) / 2;
    g.appendChild(el("text", { x: lx, y: ly - 4, "text-anchor": "middle", class: "edge-label" }, e.rel, SVG));
    svg.appendChild(g);
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const best = answerRank.get(n.id) === 0 ? " best" : "";
    const g = el("g", { class: `node ${n.kind}${best}`, "data-id": n.id, transform: `translate(${p.x},${p.y})` }, null, SVG);
    g.appendChild(el("title", {}, label(n.id, n.name), SVG));
    g.appendChild(el("rect", { width: boxW, height: boxH }, null, SVG));
    g.appendChild(el("text", { x: boxW / 2, y: boxH / 2 + 4, "text-anchor": "middle" }, short(label(n.id, n.name), 22), SVG));
    g.addEventListener("click", () => showEntity(n.id));
    svg.appendChild(g);
  }
  $("graph").replaceChildren(svg);
}

// ---- answers, topic, Cypher ----------------------------------------------------------------
function showResult(result) {
  const t = result.topic;
  $("topic").replaceChildren(el("span", {}, "topic entity "), el("span", { class: "pill topic" }, label(t.id, t.name)),
    el("span", { class: "muted" }, ` linked from “${t.surface}” (score ${Number(t.link_score).toFixed(2)})`));
  const list = result.answers.map((a) => {
    const li = el("li", { class: "answer", "data-id": a.id });
    li.appendChild(el("span", { class: "answer-name" }, label(a.id, a.name)));
    li.appendChild(el("span", { class: "muted" }, `  ${(100 * a.score).toFixed(1)}%`));
    const bar = el("div", { class: "bar" });
    bar.appendChild(el("div", { style: `width:${Math.max(1, 100 * a.score).toFixed(1)}%` }));
    li.appendChild(bar);
    for (const p of (a.paths || []).slice(0, 2)) li.appendChild(el("div", { class: "path" }, p.text));
    return li;
  });
  $("answers").replaceChildren(...list);
  $("cypher").textContent = result.cypher || "";
  $("result").hidden = false;
  drawGraph(result);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("error").hidden = true;
  $("ask-button").disabled = true;
  $("status").textContent = "answering…";
  const started = performance.now();
  try {
    const response = await fetch("/qa", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, top_k: Number($("top-k").value) }) });
    const body = await response.json();
    if (!response.ok) {
      $("result").hidden = true;
      showError(body.error || `HTTP ${response.status}`);
      $("status").textContent = "";
      return;
    }
    showResult(body);
    $("status").textContent = `answered in ${Math.round(performance.now() - started)} ms`;
  } catch (err) {
    showError(`the server did not answer (${err})`);
    $("status").textContent = "";
  } finally {
    $("ask-button").disabled = false;
  }
}

// ---- entity panel -------------------------------------------------------------------------
async function showEntity(id) {
  const response = await fetch(`/entities/${encodeURIComponent(id)}/neighbors?k=8`);
  const body = await response.json();
  if (!response.ok) { showError(body.error || `HTTP ${response.status}`); return; }
  $("entity-title").textContent = `Around ${id}`;
  const item = (n, extra) => el("li", {}, `${label(n.id, n.name)}${extra}`);
  $("faiss-neighbors").replaceChildren(...(body.faiss || []).map((n) => item(n, `  (${n.score.toFixed(3)})`)));
  $("store-neighbors").replaceChildren(...body.store.map((n) => item(n, "")));
  $("entity-panel").hidden = false;
}

async function copyCypher() {
  const text = $("cypher").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {  // not a secure context: select the text and use the old command
    const range = document.createRange();
    range.selectNodeContents($("cypher"));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    document.execCommand("copy");
  }
  $("copy").textContent = "Copied";
  setTimeout(() => { $("copy").textContent = "Copy"; }, 1500);
}

async function modelInfo() {
  try {
    const body = await (await fetch("/version")).json();
    const m = body.model;
    $("model-info").textContent = `${m.entities} entities · ${m.relations.length} relations · ${m.hops}-hop · kgfm ${body.versions.kgfm}`;
  } catch (_) { /* the page works without it */ }
}

$("ask").addEventListener("submit", ask);
$("copy").addEventListener("click", copyCypher);
modelInfo();
