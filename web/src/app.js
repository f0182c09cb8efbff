// The workshop page of `commons-sim serve`. Everything on it is generated from what the server
// declares (/api/info): each model's parameter table and output series, and the scenarios it
// offers. No model is named here.
'use strict';

const $ = (id) => document.getElementById(id);
const COLORS = { A: '#1f6fb5', B: '#d1495b', E: '#2e9c5a' };
const ROOM_COLORS = ['#1f6fb5', '#d1495b', '#2e9c5a', '#edae49', '#7b4fa0', '#00798c', '#e76f51', '#6d6875', '#8ab17d', '#3d405b'];

const S = {
  info: null, token: null, me: null,
  scenario: null, model: null,
  values: {},        // parameter -> text as the form has it
  run: null,         // A: {id, state, step, steps, records, changes, values, scenario, ...}
  source: null,      // EventSource of A
  B: null,           // a kept run: {records, values, scenario, model, changes, label}
  E: null,           // the last ensemble: {id, state, replicas, done, result, values}
  eSource: null,
  chosen: {},        // model -> [series names]
  layout: 'overlay', // A and B in one chart, or 'side' by side
  charts: [],
  debrief: { chosen: {}, charts: [], timer: null, data: null },
};

// ---------------------------------------------------------------------------------------------
// The API

async function api(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (S.token) headers['X-Token'] = S.token;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

function say(text, note) {
  const m = $('message');
  m.textContent = text || '';
  m.className = note ? 'note' : '';
}

// ---------------------------------------------------------------------------------------------
// Scenarios and the parameter form

function modelOf(name) { return S.info.models.find((m) => m.name === name); }
function allParams() { return S.info.sim_params.concat(S.model.params); }
function specOf(name) { return allParams().find((p) => p.name === name); }

function fillScenarios() {
  const sel = $('scenario');
  sel.innerHTML = '';
  for (const model of S.info.models) {
    const group = document.createElement('optgroup');
    group.label = `${model.name}: ${model.summary}`;
    for (const s of S.info.scenarios.filter((x) => x.model === model.name)) {
      const o = document.createElement('option');
      o.value = s.id;
      o.textContent = `${s.id} — ${s.title}`;
      group.appendChild(o);
    }
    if (group.children.length) sel.appendChild(group);
  }
  sel.onchange = () => chooseScenario(sel.value);
}

function chooseScenario(id) {
  const s = S.info.scenarios.find((x) => x.id === id);
  stopStream();
  if (S.run && (S.run.state === 'running' || S.run.state === 'paused')) api('DELETE', `/api/runs/${S.run.id}`).catch(() => {});
  S.run = null;
  S.scenario = s;
  S.model = modelOf(s.model);
  S.values = Object.assign({}, s.values);
  $('scenario').value = id;
  $('about-title').textContent = `${s.id}: ${s.title}  (model ${s.model}; ${s.file})`;
  $('about-text').textContent = s.description || S.model.summary;
  if (!S.chosen[S.model.name]) S.chosen[S.model.name] = S.model.series.slice(0, 4).map((x) => x.name);
  buildForm();
  buildPicker();
  buildCharts();
  renderCompare();
  showStatus();
  history.replaceState(null, '', `?scenario=${encodeURIComponent(id)}${roomQuery()}`);
}

function roomQuery() { return S.me && S.me.room ? `&room=${S.me.room}` : ''; }

function fmt(x) {
  if (x === null || x === undefined) return '—';
  if (typeof x !== 'number') return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(3);
  return Number(x.toPrecision(4)).toString();
}

function isSchedule(text) { return /^\s*\d+\s*[:~]/.test(String(text)); }

// One row of the form for one parameter: a control made from its kind, range and unit.
function paramRow(p) {
  const row = document.createElement('div');
  row.className = 'param';
  row.dataset.name = p.name;
  const id = `p-${p.name}`;
  const head = document.createElement('div');
  head.className = 'param-head';
  head.innerHTML = `<label for="${id}"></label><span class="unit"></span>`;
  head.querySelector('label').textContent = p.name.startsWith('sim.') ? p.name : p.key;
  head.querySelector('.unit').textContent = p.unit && p.unit !== '1' ? p.unit : '';
  if (p.schedulable) {
    const badge = document.createElement('span');
    badge.className = 'lever';
    badge.textContent = 'lever';
    badge.title = 'A policy lever: it may change while a run goes, and may take a schedule such as 0:0.1, 200:0.3';
    head.appendChild(badge);
  }
  row.appendChild(head);
  const control = document.createElement('div');
  control.className = 'param-control';
  row.appendChild(control);
  const value = S.values[p.name] ?? p.default;
  const finite = p.min !== null && p.max !== null;
  const numeric = p.kind === 'integer' || p.kind === 'real';
  const log = numeric && finite && p.min > 0 && p.max / p.min > 1000;

  const commit = (text) => setValue(p, String(text), row);

  if (p.kind === 'boolean' && !isSchedule(value)) {
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.id = id;
    box.checked = value === 'true';
    box.onchange = () => commit(box.checked ? 'true' : 'false');
    control.appendChild(box);
  } else if (p.kind === 'choice') {
    // A schedule (e.g. 0:open_access, 400:commons) stays selectable beside the plain choices.
    const sel = document.createElement('select');
    sel.id = id;
    sel.className = 'wide';
    const options = (isSchedule(value) ? [[value, `schedule: ${value}`]] : []).concat(p.choices.map((c) => [c, c]));
    for (const [v, label] of options) {
      const o = document.createElement('option');
      o.value = v; o.textContent = label;
      sel.appendChild(o);
    }
    sel.value = value;
    sel.onchange = () => commit(sel.value);
    control.appendChild(sel);
  } else {
    let slider = null;
    if (numeric && finite && !isSchedule(value)) {
      slider = document.createElement('input');
      slider.type = 'range';
      slider.setAttribute('aria-label', p.name);
      const toSlider = (v) => (log ? Math.log10(v) : v);
      const fromSlider = (s) => {
        let v = log ? Math.pow(10, s) : s;
        if (p.kind === 'integer') v = Math.round(v);
        else v = Number(v.toPrecision(3));
        return Math.min(p.max, Math.max(p.min, v));
      };
      slider.min = toSlider(p.min);
      slider.max = toSlider(p.max);
      slider.step = log ? 0.01 : p.kind === 'integer' && p.max - p.min <= 1000 ? 1 : 'any';
      slider.value = toSlider(Number(value));
      slider.oninput = () => { text.value = fromSlider(Number(slider.value)); };
      slider.onchange = () => commit(text.value);
      control.appendChild(slider);
    }
    const text = document.createElement('input');
    text.type = 'text';
    text.id = id;
    text.value = value;
    if (!slider) text.className = 'wide';
    text.onchange = () => {
      const n = Number(text.value);
      text.classList.toggle('bad', numeric && !isSchedule(text.value) && (text.value.trim() === '' || isNaN(n) ||
        (p.min !== null && n < p.min) || (p.max !== null && n > p.max)));
      if (slider && !isSchedule(text.value) && text.value.trim() !== '' && !isNaN(Number(text.value))) {
        slider.value = log ? Math.log10(Number(text.value)) : Number(text.value);
      }
      commit(text.value.trim());
    };
    control.appendChild(text);
  }
  const desc = document.createElement('div');
  desc.className = 'desc';
  desc.textContent = p.description;
  if (finite) {
    const r = document.createElement('span');
    r.className = 'range';
    r.textContent = `  [${fmt(p.min)} … ${fmt(p.max)}]`;
    desc.appendChild(r);
  } else if (p.kind === 'choice') {
    const r = document.createElement('span');
    r.className = 'range';
    r.textContent = `  (${p.choices.join(', ')})`;
    desc.appendChild(r);
  }
  if (p.source) desc.title = `Source: ${p.source}`;
  row.appendChild(desc);
  markChanged(row, p);
  return row;
}

function markChanged(row, p) {
  row.classList.toggle('changed', (S.values[p.name] ?? '') !== (S.scenario.values[p.name] ?? ''));
}

function live() { return S.run && (S.run.state === 'running' || S.run.state === 'paused'); }

async function setValue(p, text, row) {
  const before = S.values[p.name];
  S.values[p.name] = text;
  markChanged(row, p);
  say('');
  if (!live()) return;
  if (!p.schedulable) {
    say(`${p.name} applies to the next run: press Reset, then Run.`, true);
    return;
  }
  if (isSchedule(text)) {
    say(`A schedule applies to the next run; while a run goes, give one value.`, true);
    return;
  }
  try {
    const r = await api('POST', `/api/runs/${S.run.id}/lever`, { name: p.name, value: text });
    update(S.run, r);
    say(`${p.name} = ${text} from step ${r.changes[r.changes.length - 1].step} on.`, true);
    drawCharts();
  } catch (e) {
    say(e.message);
    S.values[p.name] = before;
    markChanged(row, p);
  }
}

function buildForm() {
  const levers = $('levers'), setup = $('setup');
  levers.innerHTML = '';
  setup.innerHTML = '';
  for (const p of S.model.params) (p.schedulable ? levers : setup).appendChild(paramRow(p));
  for (const p of S.info.sim_params) setup.appendChild(paramRow(p));
  if (!levers.children.length) levers.textContent = 'This model has no parameter that may change during a run.';
  filterForm();
}

function filterForm() {
  const q = $('filter').value.trim().toLowerCase();
  for (const row of $('setup').children) {
    const p = specOf(row.dataset.name);
    if (!p) continue;
    row.classList.toggle('hidden', q !== '' && !(p.name + ' ' + p.description).toLowerCase().includes(q));
  }
}

// The parameters that differ from the scenario: what a run is asked to change.
function changedValues(values) {
  const set = {};
  for (const [k, v] of Object.entries(values || S.values)) if (v !== S.scenario.values[k]) set[k] = v;
  return set;
}

// ---------------------------------------------------------------------------------------------
// Runs

function stopStream() {
  if (S.source) { S.source.close(); S.source = null; }
}

function listen(run) {
  stopStream();
  const es = new EventSource(`/api/runs/${run.id}/events?token=${S.token}&from=${run.records.length}`);
  S.source = es;
  es.addEventListener('update', (ev) => {
    if (S.run !== run) { es.close(); return; }
    const d = JSON.parse(ev.data);
    run.records = run.records.slice(0, d.from).concat(d.records);
    update(run, d);
    if (d.error) say(`The run failed: ${d.error}`);
    if (d.state !== 'running' && d.state !== 'paused') { es.close(); if (S.source === es) S.source = null; }
    showStatus();
    drawCharts();
  });
  es.onerror = () => {
    if (run.state !== 'running' && run.state !== 'paused') es.close();
  };
}

// Takes a run's state from the server unless a newer one arrived already.
function update(run, d) {
  if (d.version < (run.version || 0)) return;
  run.version = d.version;
  run.state = d.state;
  if (d.step !== undefined) run.step = d.step;
  if (d.changes) run.changes = d.changes;
}

async function newRun(start) {
  say('');
  if (live()) await api('DELETE', `/api/runs/${S.run.id}`).catch(() => {});
  stopStream();
  const values = Object.assign({}, S.values);
  const d = await api('POST', '/api/runs', {
    scenario: S.scenario.id, set: changedValues(values), start, speed: Number($('speed').value),
  });
  S.run = Object.assign(d, { values, scenarioId: S.scenario.id, modelName: S.model.name });
  listen(S.run);
  showStatus();
  drawCharts();
}

async function act(fn) {
  try { await fn(); } catch (e) { say(e.message); }
  showStatus();
}

async function onRun() {
  if (live() && S.run.state === 'paused') {
    update(S.run, await api('POST', `/api/runs/${S.run.id}/control`, { action: 'run', speed: Number($('speed').value) }));
    if (!S.source) listen(S.run);
  } else if (!live()) {
    await newRun(true);
  }
}

async function onPause() {
  if (live()) update(S.run, await api('POST', `/api/runs/${S.run.id}/control`, { action: 'pause' }));
}

async function onStep() {
  if (!live()) await newRun(false);
  update(S.run, await api('POST', `/api/runs/${S.run.id}/control`, { action: 'step' }));
  if (!S.source) listen(S.run);
}

async function onReset() { await newRun(false); }

function showStatus() {
  const r = S.run;
  const bar = $('progress');
  $('run').disabled = live() && r.state === 'running';
  $('pause').disabled = !(live() && r.state === 'running');
  $('keep-b').disabled = !r || r.records.length < 2;
  $('download').disabled = !r;
  $('save-room').hidden = !(S.me && S.me.room);
  $('save-room').disabled = !r || r.records.length < 2;
  if (!r) { bar.value = 0; $('status').textContent = 'Press Run to start, or Step to go one record at a time.'; return; }
  bar.value = r.steps ? (r.step || 0) / r.steps : 0;
  const time = r.records.length ? r.records[r.records.length - 1][1] : 0;
  const words = { running: 'running', paused: 'paused', complete: 'finished', failed: 'failed', stopped: 'stopped' };
  $('status').textContent = `Run ${r.id}: step ${r.step} of ${r.steps} (${S.model.time_name} ${fmt(time)}) — ${words[r.state] || r.state}` +
    (r.changes && r.changes.length ? `; levers changed ${r.changes.length}×` : '');
}

function keepB() {
  const r = S.run;
  if (!r) return;
  S.B = { records: r.records.slice(), values: Object.assign({}, r.values), scenario: r.scenarioId, model: r.modelName,
          changes: (r.changes || []).slice(), label: `B (run ${r.id})`, set: changedValues(r.values) };
  say('Kept as B. Change something and press Reset, then Run: A and B are shown together.', true);
  buildCharts();
  renderCompare();
}

async function onEnsemble() {
  const n = Math.round(Number($('replicas').value));
  if (S.eSource) { S.eSource.close(); S.eSource = null; }
  const values = Object.assign({}, S.values);
  const d = await api('POST', '/api/ensembles', { scenario: S.scenario.id, set: changedValues(values), replicas: n });
  S.E = { id: d.id, state: d.state, replicas: d.replicas, done: 0, result: null, values, model: S.model.name };
  say(`Ensemble of ${n} replicas started…`, true);
  const es = new EventSource(`/api/runs/${d.id}/events?token=${S.token}`);
  S.eSource = es;
  const e = S.E;
  es.addEventListener('update', (ev) => {
    const x = JSON.parse(ev.data);
    e.state = x.state; e.done = x.replicas_done;
    if (x.ensemble) e.result = x.ensemble;
    if (x.state === 'failed') say(`The ensemble failed: ${x.error}`);
    else if (x.state === 'complete') say(`Ensemble: ${e.replicas} replicas, median and 10–90 % band shown in green.`, true);
    else say(`Ensemble: ${e.done} of ${e.replicas} replicas done…`, true);
    if (x.state !== 'running') { es.close(); buildCharts(); renderCompare(); }
  });
}

function download() {
  if (!S.run) return;
  const a = document.createElement('a');
  a.href = `/api/runs/${S.run.id}/download?token=${S.token}`;
  a.download = '';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

async function saveToRoom() {
  const set = changedValues(S.run.values);
  const levers = (S.run.changes || []).map((c) => `${c.name.split('.').pop()}→${c.value} @${c.step}`);
  const guess = Object.entries(set).map(([k, v]) => `${k.split('.').pop()}=${v}`).concat(levers).join(', ') || 'the scenario as it is';
  const label = prompt('A label for this run (what did you try?)', guess);
  if (label === null) return;
  await api('POST', `/api/runs/${S.run.id}/save`, { label, set });
  say('Saved: the facilitator sees it in the room debrief.', true);
}

// ---------------------------------------------------------------------------------------------
// Charts: one per chosen output; A solid, B dashed, the ensemble's median and band in green.

function buildPicker() {
  const box = $('series-picker');
  box.innerHTML = '';
  const chosen = S.chosen[S.model.name];
  for (const s of S.model.series) {
    const b = document.createElement('button');
    b.className = 'chip' + (chosen.includes(s.name) ? ' on' : '');
    b.textContent = s.name;
    b.title = `${s.description} (${s.units})`;
    b.onclick = () => {
      const i = chosen.indexOf(s.name);
      if (i >= 0) chosen.splice(i, 1); else chosen.push(s.name);
      b.classList.toggle('on', i < 0);
      buildCharts();
      renderCompare();
    };
    box.appendChild(b);
  }
}

function seriesIndex(name) { return S.model.series.findIndex((s) => s.name === name); }

function chartWidth(container) {
  return Math.max(300, Math.floor((container.clientWidth || 600) - 18));
}

function pngOf(u, title, legend) {
  title = title.replace(' (1)', '');
  const src = u.ctx.canvas;
  const dpr = window.devicePixelRatio || 1;
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height + Math.round(56 * dpr);
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#1d2733';
  ctx.font = `${Math.round(15 * dpr)}px sans-serif`;
  ctx.fillText(title, 10 * dpr, 20 * dpr);
  let x = 10 * dpr;
  ctx.font = `${Math.round(12 * dpr)}px sans-serif`;
  for (const [label, color] of legend) {
    ctx.fillStyle = color;
    ctx.fillRect(x, 34 * dpr, 16 * dpr, 4 * dpr);
    ctx.fillStyle = '#1d2733';
    ctx.fillText(label, x + 20 * dpr, 40 * dpr);
    x += (ctx.measureText(label).width + 40 * dpr);
  }
  ctx.drawImage(src, 0, Math.round(52 * dpr));
  return c;
}

function savePng(u, name, title, legend) {
  pngOf(u, title, legend).toBlob((blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${name}.png`;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  });
}

function chartCard(container, spec, onPng, title) {
  const card = document.createElement('div');
  card.className = 'chart';
  card.dataset.series = spec.name;
  card.innerHTML = '<div class="chart-head"><strong></strong><span class="units"></span><button class="small png" title="Download this chart as a PNG picture">PNG</button></div><div class="desc"></div><div class="plot"></div>';
  card.querySelector('strong').textContent = title || spec.name;
  card.querySelector('.units').textContent = spec.units === '1' ? '' : spec.units;
  card.querySelector('.desc').textContent = spec.description;
  card.querySelector('.png').onclick = onPng;
  container.appendChild(card);
  return card;
}

function lines() {
  // Which lines the charts show now.
  const out = [{ key: 'A', label: 'A (now)', color: COLORS.A }];
  if (S.B && S.B.model === S.model.name) out.push({ key: 'B', label: S.B.label, color: COLORS.B, dash: [6, 4] });
  if (S.E && S.E.result && S.E.model === S.model.name) out.push({ key: 'E', label: `ensemble median (${S.E.replicas})`, color: COLORS.E });
  return out;
}

function buildCharts() {
  for (const c of S.charts) c.u.destroy();
  S.charts = [];
  const box = $('charts');
  box.innerHTML = '';
  if (!S.model) return;
  const shown = lines();
  const pairs = S.layout === 'side' && shown.some((l) => l.key === 'B');
  box.classList.toggle('pairs', pairs);
  for (const name of S.chosen[S.model.name]) {
    if (pairs) { sideBySide(box, name); continue; }
    const spec = S.model.series[seriesIndex(name)];
    const entry = { name, u: null };
    const card = chartCard(box, spec, () => savePng(entry.u, name, `${spec.name} (${spec.units}) — ${S.scenario.id}`,
      shown.map((l) => [l.label, l.color])));
    const series = [{ label: S.model.time_name }];
    for (const l of shown) series.push({ label: l.label, stroke: l.color, width: 2, dash: l.dash, spanGaps: true, points: { show: false } });
    const bands = [];
    if (shown.some((l) => l.key === 'E')) {
      series.push({ label: '10 %', stroke: 'rgba(46,156,90,0.35)', width: 1, spanGaps: true, points: { show: false } });
      series.push({ label: '90 %', stroke: 'rgba(46,156,90,0.35)', width: 1, spanGaps: true, points: { show: false } });
      bands.push({ series: [series.length - 1, series.length - 2], fill: 'rgba(46,156,90,0.18)' });
    }
    const opts = {
      width: chartWidth(card), height: 230,
      scales: { x: { time: false } },
      series, bands,
      axes: [{ label: timeLabel(S.model) }, yAxis()],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    entry.u = new uPlot(opts, chartData(name, shown), card.querySelector('.plot'));
    S.charts.push(entry);
  }
}

// A and B of one output in two charts next to each other, on the same y scale.
function sideBySide(box, name) {
  const spec = S.model.series[seriesIndex(name)];
  for (const key of ['A', 'B']) {
    const label = key === 'A' ? 'A (now)' : S.B.label;
    const entry = { name, only: key, u: null };
    const card = chartCard(box, spec, () => savePng(entry.u, `${name}-${key}`, `${spec.name} — ${label} — ${S.scenario.id}`,
      [[label, COLORS[key]]]), `${spec.name} — ${label}`);
    const opts = {
      width: chartWidth(card), height: 230,
      scales: { x: { time: false }, y: { range: () => sharedRange(name) } },
      series: [{ label: S.model.time_name }, { label, stroke: COLORS[key], width: 2, dash: key === 'B' ? [6, 4] : undefined, spanGaps: true, points: { show: false } }],
      axes: [{ label: timeLabel(S.model) }, yAxis()],
      cursor: { drag: { x: true, y: false } },
    };
    entry.u = new uPlot(opts, onlyData(name, key), card.querySelector('.plot'));
    S.charts.push(entry);
  }
}

function onlyData(name, key) {
  const k = seriesIndex(name);
  const recs = key === 'A' ? (S.run ? S.run.records : []) : S.B.records;
  return [recs.map((r) => r[1]), recs.map((r) => r[2 + k])];
}

function sharedRange(name) {
  const k = seriesIndex(name);
  const all = (S.run ? S.run.records : []).concat(S.B ? S.B.records : []).map((r) => r[2 + k]).filter((v) => v !== null);
  if (!all.length) return [0, 1];
  let lo = Math.min(...all), hi = Math.max(...all);
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

// Tick labels with the digits their spacing needs (0.0005, not 0.001 twice).
function tick(v) {
  if (v === 0 || v === null) return v === 0 ? '0' : '';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(1);
  return String(Number(v.toPrecision(6)));
}

// A y axis wide enough for its longest tick label.
function yAxis() {
  return {
    values: (u, splits) => splits.map(tick),
    size: (u, values) => (values && values.length ? Math.max(40, Math.max(...values.map((v) => String(v).length)) * 7.5 + 18) : 50),
  };
}

function timeLabel(model) {
  const u = model.time_units;
  return u && u !== '1' && u !== model.time_name ? `${model.time_name} (${u})` : model.time_name;
}

function chartData(name, shown) {
  const k = seriesIndex(name);
  const tables = [];
  const recs = S.run ? S.run.records : [];
  tables.push([recs.map((r) => r[1]), recs.map((r) => r[2 + k])]);
  for (const l of shown) {
    if (l.key === 'B') tables.push([S.B.records.map((r) => r[1]), S.B.records.map((r) => r[2 + k])]);
    if (l.key === 'E') {
      const e = S.E.result;
      tables.push([e.times, e.median.map((m) => m[k]), e.lo.map((m) => m[k]), e.hi.map((m) => m[k])]);
    }
  }
  if (tables.every((t) => t[0].length === 0)) return [[]].concat(shown.map(() => [])).concat(S.E && S.E.result && shown.some((l) => l.key === 'E') ? [[], []] : []);
  return uPlot.join(tables);
}

function drawCharts() {
  const shown = lines();
  for (const c of S.charts) c.u.setData(c.only ? onlyData(c.name, c.only) : chartData(c.name, shown));
  renderCompare();
}

// Side by side: what differs between A and B, and where each ended.
function renderCompare() {
  const box = $('compare');
  box.innerHTML = '';
  if (!S.B || !S.model || S.B.model !== S.model.name) return;
  const A = S.run ? { values: S.run.values, records: S.run.records, changes: S.run.changes || [], label: `A (run ${S.run.id})` } : null;
  const h = document.createElement('h3');
  h.textContent = 'A and B side by side';
  box.appendChild(h);
  const table = document.createElement('table');
  const head = document.createElement('tr');
  head.innerHTML = '<th></th><th><span class="swatch" style="background:' + COLORS.A + '"></span>A (now)</th><th><span class="swatch dashed" style="color:' + COLORS.B + '"></span>' + S.B.label + '</th>';
  table.appendChild(head);
  const aVals = A ? A.values : S.values;
  const keys = new Set(Object.keys(changedValues(aVals)).concat(Object.keys(S.B.set)));
  const add = (label, a, b, num) => {
    const tr = document.createElement('tr');
    const cells = [label, a, b].map((t, i) => { const td = document.createElement(i ? 'td' : 'th'); td.textContent = t; if (num && i) td.className = 'num'; return td; });
    cells.forEach((c) => tr.appendChild(c));
    table.appendChild(tr);
  };
  if (!keys.size) add('parameters', 'as the scenario', 'as the scenario');
  for (const k of keys) add(k, aVals[k] ?? S.scenario.values[k], S.B.values[k] ?? S.scenario.values[k]);
  const leverText = (ch) => (ch.length ? ch.map((c) => `${c.name.split('.').pop()} → ${c.value} at step ${c.step}`).join('; ') : '—');
  add('levers changed live', A ? leverText(A.changes) : '—', leverText(S.B.changes));
  for (const name of S.chosen[S.model.name]) {
    const k = seriesIndex(name);
    const last = (recs) => (recs && recs.length ? recs[recs.length - 1][2 + k] : null);
    add(`${name} at the end`, fmt(A ? last(A.records) : null), fmt(last(S.B.records)), true);
  }
  box.appendChild(table);
  const buttons = document.createElement('div');
  buttons.className = 'buttons';
  for (const [mode, text] of [['overlay', 'Charts: A and B together'], ['side', 'Charts: A and B side by side']]) {
    const b = document.createElement('button');
    b.className = 'small layout' + (S.layout === mode ? ' on' : '');
    b.dataset.layout = mode;
    b.textContent = text;
    b.onclick = () => { S.layout = mode; buildCharts(); renderCompare(); };
    buttons.appendChild(b);
  }
  const clear = document.createElement('button');
  clear.className = 'small';
  clear.textContent = 'Forget B';
  buttons.appendChild(clear);
  clear.onclick = () => { S.B = null; buildCharts(); renderCompare(); };
  box.appendChild(buttons);
}

// ---------------------------------------------------------------------------------------------
// Rooms

function showRoom() {
  const box = $('room-status');
  box.innerHTML = '';
  if (!S.me || !S.me.room) return;
  const code = document.createElement('span');
  code.className = 'code';
  code.textContent = S.me.room;
  box.append(S.me.facilitator ? 'Room code ' : `${S.me.name} in room `, code);
  $('debrief-tab').hidden = !S.me.facilitator;
  showStatus();
}

async function becomeParticipant(d) {
  stopStream();
  S.token = d.token;
  S.me = { name: d.name, room: d.code, facilitator: d.facilitator };
  S.run = null;
  sessionStorage.setItem('commons-sim-session', JSON.stringify({ token: d.token, me: S.me }));
  $('room-dialog').close();
  showRoom();
  buildCharts();
  if (S.me.facilitator) showTab('debrief');
  history.replaceState(null, '', `?scenario=${encodeURIComponent(S.scenario.id)}${roomQuery()}`);
}

function roomDialog(code) {
  $('room-error').textContent = '';
  $('open-room').hidden = S.info.network_client;
  if (typeof code === 'string' && code && !$('join-code').value) $('join-code').value = code;
  $('room-dialog').showModal();
}

async function join(ev) {
  ev.preventDefault();
  try {
    const d = await api('POST', '/api/rooms/join', { code: $('join-code').value.trim(), name: $('join-name').value.trim() });
    await becomeParticipant(d);
  } catch (e) { $('room-error').textContent = e.message; }
}

async function openRoom() {
  try { await becomeParticipant(await api('POST', '/api/rooms', {})); } catch (e) { $('room-error').textContent = e.message; }
}

function showTab(name) {
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  $('explore').hidden = name !== 'explore';
  $('debrief').hidden = name !== 'debrief';
  clearInterval(S.debrief.timer);
  if (name === 'debrief') {
    loadDebrief();
    S.debrief.timer = setInterval(loadDebrief, 5000);
  } else {
    buildCharts();
  }
}

async function loadDebrief() {
  try {
    S.debrief.data = await api('GET', `/api/rooms/${S.me.room}`);
  } catch (e) { $('debrief-people').textContent = e.message; return; }
  renderDebrief();
}

function renderDebrief() {
  const d = S.debrief.data;
  $('debrief-title').textContent = `Room ${d.code}: ${d.saved.length} saved run${d.saved.length === 1 ? '' : 's'}`;
  $('debrief-people').textContent = `${d.participants.length} in the room: ${d.participants.join(', ')}. ` +
    (d.saved.length ? '' : 'Runs appear here when groups press “Save to room”.');
  const models = [...new Set(d.saved.map((s) => s.run.model))];
  const sel = $('debrief-model');
  const current = sel.value;
  sel.innerHTML = '';
  for (const m of models) { const o = document.createElement('option'); o.value = m; o.textContent = m; sel.appendChild(o); }
  if (models.includes(current)) sel.value = current;
  const model = modelOf(sel.value);
  const key = JSON.stringify([sel.value, d.saved.map((s) => s.number)]);
  if (key === S.debrief.key) return;
  S.debrief.key = key;
  for (const c of S.debrief.charts) c.u.destroy();
  S.debrief.charts = [];
  $('debrief-charts').innerHTML = '';
  $('debrief-picker').innerHTML = '';
  $('debrief-table').innerHTML = '';
  if (!model) return;
  const runs = d.saved.filter((s) => s.run.model === model.name);
  if (!S.debrief.chosen[model.name]) S.debrief.chosen[model.name] = model.series.slice(0, 3).map((s) => s.name);
  const chosen = S.debrief.chosen[model.name];
  for (const s of model.series) {
    const b = document.createElement('button');
    b.className = 'chip' + (chosen.includes(s.name) ? ' on' : '');
    b.textContent = s.name;
    b.title = s.description;
    b.onclick = () => { const i = chosen.indexOf(s.name); if (i >= 0) chosen.splice(i, 1); else chosen.push(s.name); S.debrief.key = null; renderDebrief(); };
    $('debrief-picker').appendChild(b);
  }
  const labels = runs.map((s) => `${s.participant}: ${s.label}`);
  const colors = runs.map((s, i) => ROOM_COLORS[i % ROOM_COLORS.length]);
  for (const name of chosen) {
    const k = model.series.findIndex((s) => s.name === name);
    const spec = model.series[k];
    const entry = { u: null };
    const card = chartCard($('debrief-charts'), spec, () => savePng(entry.u, `room-${d.code}-${name}`, `${name} — room ${d.code}`, labels.map((l, i) => [l, colors[i]])));
    const tables = runs.map((s) => [s.run.records.map((r) => r[1]), s.run.records.map((r) => r[2 + k])]);
    const data = tables.length ? uPlot.join(tables) : [[]];
    const series = [{ label: model.time_name }].concat(runs.map((s, i) => ({ label: labels[i], stroke: colors[i], width: 2, spanGaps: true, points: { show: false } })));
    entry.u = new uPlot({ width: chartWidth(card), height: 260, scales: { x: { time: false } }, series, axes: [{ label: timeLabel(model) }, yAxis()] }, data, card.querySelector('.plot'));
    S.debrief.charts.push(entry);
  }
  const table = $('debrief-table');
  const head = document.createElement('tr');
  for (const t of ['#', 'group', 'what they tried', 'scenario', 'settings', 'levers changed live'].concat(chosen.map((c) => `${c} at the end`))) {
    const th = document.createElement('th'); th.textContent = t; head.appendChild(th);
  }
  table.appendChild(head);
  runs.forEach((s, i) => {
    const tr = document.createElement('tr');
    const last = s.run.records[s.run.records.length - 1] || [];
    const settings = Object.entries(s.run.set || {}).map(([k, v]) => `${k.split('.').pop()} = ${v}`).join(', ') || 'as the scenario';
    const cells = [String(s.number), s.participant, s.label, s.run.scenario, settings,
      (s.run.changes || []).map((c) => `${c.name.split('.').pop()} → ${c.value} @${c.step}`).join('; ') || '—']
      .concat(chosen.map((c) => fmt(last[2 + model.series.findIndex((x) => x.name === c)])));
    cells.forEach((t, j) => {
      const td = document.createElement('td');
      if (j === 1) { const sw = document.createElement('span'); sw.className = 'swatch'; sw.style.background = colors[i]; td.appendChild(sw); }
      td.append(t);
      if (j >= 6) td.className = 'num';
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function start() {
  if (typeof uPlot === 'undefined') {
    document.body.textContent = 'The charting library was not built into this commons-sim: run scripts/install-deps build, then scripts/build.';
    return;
  }
  try {
    S.info = await api('GET', '/api/info');
  } catch (e) {
    document.body.textContent = `The server does not answer: ${e.message}`;
    return;
  }
  fillScenarios();
  const params = new URLSearchParams(location.search);
  const stored = JSON.parse(sessionStorage.getItem('commons-sim-session') || 'null');
  const want = params.get('scenario');
  chooseScenario(S.info.scenarios.some((s) => s.id === want) ? want : S.info.scenarios[0].id);
  if (stored && stored.me && stored.me.room && stored.me.room === params.get('room')) {
    S.token = stored.token;
    S.me = stored.me;
    try { await api('GET', '/api/info'); } catch (e) { /* keeps going */ }
    showRoom();
  } else {
    try {
      const d = await api('POST', '/api/session', {});
      S.token = d.token;
      S.me = { name: d.name, room: null, facilitator: false };
    } catch (e) {
      // From another computer on the network: a room code is needed.
      S.info.network_client = true;
      roomDialog(params.get('room'));
    }
  }
  $('run').onclick = () => act(onRun);
  $('pause').onclick = () => act(onPause);
  $('step').onclick = () => act(onStep);
  $('reset').onclick = () => act(onReset);
  $('keep-b').onclick = keepB;
  $('ensemble').onclick = () => act(onEnsemble);
  $('download').onclick = download;
  $('save-room').onclick = () => act(saveToRoom);
  $('speed').onchange = () => { if (live()) api('POST', `/api/runs/${S.run.id}/control`, { speed: Number($('speed').value) }).catch((e) => say(e.message)); };
  $('filter').oninput = filterForm;
  $('defaults').onclick = () => { S.values = Object.assign({}, S.scenario.values); buildForm(); say('Every parameter is back to the scenario\'s value (for the next run).', true); };
  $('room-button').onclick = () => roomDialog();
  $('room-close').onclick = () => $('room-dialog').close();
  $('join-form').onsubmit = join;
  $('open').onclick = openRoom;
  $('debrief-refresh').onclick = loadDebrief;
  $('debrief-model').onchange = () => { S.debrief.key = null; renderDebrief(); };
  for (const b of document.querySelectorAll('.tabs button')) b.onclick = () => showTab(b.dataset.tab);
  let resizeTimer = null;
  window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { if (!$('explore').hidden) buildCharts(); }, 200); });
  showStatus();
  if (params.get('room') && !(S.me && S.me.room) && !$('room-dialog').open) roomDialog(params.get('room'));
}

start();
