// The sound-library page: plain DOM, no framework. Every request goes to this server only.
"use strict";

const $ = (id) => document.getElementById(id);
let chosenFile = null;

function say(text, isError = false) {
  const message = $("message");
  message.textContent = text;
  message.classList.toggle("error", isError);
}

async function call(url, options = {}) {
  let reply;
  try {
    reply = await fetch(url, { credentials: "same-origin", ...options });
  } catch (error) {
    throw new Error("the server cannot be reached");
  }
  let body = null;
  try { body = await reply.json(); } catch (error) { body = null; }
  if (!reply.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `HTTP ${reply.status}`;
    throw new Error(detail);
  }
  return body;
}

function filters() {
  const params = new URLSearchParams();
  if ($("folder").value) params.set("folder", $("folder").value);
  if ($("tag").value) params.set("tag", $("tag").value);
  return params;
}

function render(hits, heading) {
  const list = $("results");
  list.replaceChildren();
  const template = $("result-template");
  for (const hit of hits) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.id = hit.id;
    item.querySelector(".thumb").src = hit.thumb_url;
    item.querySelector(".thumb").alt = `waveform of ${hit.name}`;
    item.querySelector(".name").textContent = hit.name;
    item.querySelector(".score").textContent = hit.score.toFixed(3);
    item.querySelector(".path").textContent = hit.path;
    const tags = item.querySelector(".tags");
    for (const tag of hit.tags) {
      const chip = document.createElement("span");
      chip.textContent = tag.source === "auto" ? `${tag.tag} ${tag.score.toFixed(2)}` : tag.tag;
      tags.append(chip);
    }
    item.querySelector(".caption").textContent = hit.caption || "";
    const audio = item.querySelector("audio");
    audio.src = hit.audio_url;
    audio.setAttribute("aria-label", `play ${hit.name}`);
    const more = item.querySelector(".more");
    more.setAttribute("aria-label", `more like ${hit.name}`);
    more.addEventListener("click", () => moreLike(hit.id, hit.name));
    list.append(item);
  }
  say(hits.length ? `${hits.length} ${heading}` : "No results.");
}

async function searchText(event) {
  event.preventDefault();
  const q = $("q").value.trim();
  if (!q) { say("Type what you are looking for.", true); return; }
  const params = filters();
  params.set("q", q);
  say("Searching…");
  try {
    const body = await call(`/api/search?${params}`);
    render(body.hits, `results for “${q}”`);
  } catch (error) { say(error.message, true); }
}

async function moreLike(id, name) {
  say("Searching…");
  try {
    const body = await call(`/api/items/${id}/similar?${filters()}`);
    render(body.hits, `sounds like ${name}`);
    const first = $("results").querySelector(".result");
    if (first) first.focus();
  } catch (error) { say(error.message, true); }
}

function choose(file) {
  chosenFile = file;
  $("file-name").textContent = file ? `${file.name} (${file.size.toLocaleString()} bytes)` : "";
}

function needFile() {
  if (!chosenFile) { say("Choose or drop a sound first.", true); return false; }
  if (chosenFile.size === 0) { say("That file is empty: choose a sound file with audio in it.", true); return false; }
  return true;
}

function uploadForm() {
  const form = new FormData();
  form.append("audio", chosenFile, chosenFile.name);
  return form;
}

async function findSimilar() {
  if (!needFile()) return;
  const form = uploadForm();
  for (const [key, value] of filters()) form.append(key, value);
  say("Searching…");
  try {
    const body = await call("/api/search/audio", { method: "POST", body: form });
    render(body.hits, `sounds like ${chosenFile.name}`);
  } catch (error) { say(`Could not use ${chosenFile.name}: ${error.message}`, true); }
}

async function classify() {
  if (!needFile()) return;
  const labels = $("labels").value.trim();
  if (!labels) { say("Type a few comma-separated labels to classify against.", true); $("labels").focus(); return; }
  const form = uploadForm();
  form.append("labels", labels);
  form.append("top_k", String(Math.min(5, labels.split(",").filter((l) => l.trim()).length || 1)));
  say("Classifying…");
  const list = $("classes");
  list.replaceChildren();
  try {
    const body = await call("/classify", { method: "POST", body: form });
    for (const entry of body.top) {
      const item = document.createElement("li");
      item.textContent = `${entry.label}: ${(entry.score * 100).toFixed(1)}%`;
      list.append(item);
    }
    say(`${chosenFile.name} is most likely “${body.top[0].label}”.`);
  } catch (error) { say(`Could not classify ${chosenFile.name}: ${error.message}`, true); }
}

async function caption() {
  if (!needFile()) return;
  say("Captioning…");
  try {
    const body = await call("/caption", { method: "POST", body: uploadForm() });
    say(`Caption: ${body.text}`);
  } catch (error) { say(error.message, true); }
}

function fillSelect(select, entries) {
  for (const entry of entries) {
    const option = document.createElement("option");
    option.value = entry.name;
    option.textContent = `${entry.name} (${entry.count})`;
    select.append(option);
  }
}

async function start() {
  $("search-form").addEventListener("submit", searchText);
  $("find-similar").addEventListener("click", findSimilar);
  $("classify").addEventListener("click", classify);
  $("caption").addEventListener("click", caption);
  const drop = $("drop");
  drop.addEventListener("click", () => $("file").click());
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("file").click(); }
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) choose(event.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => choose($("file").files[0] || null));
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); $("q").focus(); }
  });
  try {
    const health = await call("/health");
    $("model").textContent = `model ${health.model}` + (health.index === null ? "" : `, ${health.index} sounds`);
    $("caption").hidden = !health.can_caption;
    if (health.index === null) {
      for (const id of ["q", "search-button", "find-similar", "folder", "tag"]) $(id).disabled = true;
      say("No index loaded: start the server with --index to search; classification works.");
      return;
    }
    const facets = await call("/api/facets");
    fillSelect($("folder"), facets.folders);
    fillSelect($("tag"), facets.tags);
  } catch (error) { say(error.message, true); }
}

start();
