// The workshop page in a real browser: Debian's chromium, driven by playwright-core (from
// web/node_modules), against `commons-sim serve` on loopback. Each check drives the page as a
// person would and asserts on what the page shows; screenshots go to ARTEFACTS
// (build/test-artefacts/browser by default).
//   COMMONS_SIM=build/commons-sim node tests/browser/workshop.mjs
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.SIM_SOURCE_DIR || path.resolve(here, '../..');
const binary = process.env.COMMONS_SIM || path.join(source, 'build/commons-sim');
const artefacts = process.env.ARTEFACTS || path.join(source, 'build/test-artefacts/browser');
const require = createRequire(path.join(source, 'web/package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error(`playwright-core is not installed in web/node_modules: run scripts/install-deps test (${e.message})`);
  process.exit(1);
}
if (!fs.existsSync(process.env.CHROMIUM || '/usr/bin/chromium')) {
  console.error('chromium is not installed: run scripts/install-deps test');
  process.exit(1);
}
fs.mkdirSync(artefacts, { recursive: true });

let passed = 0, failed = 0;
function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

// The server, on a free port; its first line names the address.
function startServer() {
  return new Promise((resolve, reject) => {
    const server = spawn(binary, ['serve', '--port', '0', '--workers', '2'], { cwd: source, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 15000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(timer); resolve({ server, url: `http://127.0.0.1:${m[1]}/` }); }
    });
    server.stderr.on('data', (d) => { out += d; });
    server.on('exit', (code) => reject(new Error(`the server exited with ${code}: ${out}`)));
  });
}

const { server, url } = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const errors = [];
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(20000);
  return page;
}
const shot = (page, name, fullPage = false) => page.screenshot({ path: path.join(artefacts, `${name}.png`), fullPage });
const records = (page) => page.evaluate(() => (S.run ? S.run.records.length : 0));
const waitState = (page, states) =>
  page.waitForFunction((s) => S.run && s.includes(S.run.state), states, { timeout: 30000 });
async function choose(page, scenario) {
  await page.selectOption('#scenario', scenario);
  await page.waitForFunction((id) => S.scenario && S.scenario.id === id, scenario);
}
// Sets a parameter's text field as a person types it (the change event fires on Enter/blur).
async function setParam(page, name, value) {
  const field = page.locator(`[id="p-${name}"]`);
  await field.fill(String(value));
  await field.press('Enter');
  await field.dispatchEvent('change');
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const main = await newPage();

test('the page loads with the scenarios, the parameter form and the charts', async () => {
  await main.goto(url);
  await main.waitForFunction(() => S.info && S.charts.length > 0);
  const options = await main.locator('#scenario option').count();
  check(options >= 3, `at least 3 scenarios offered (got ${options})`);
  check(await main.locator('#levers .param').count() >= 1, 'the levers of the first scenario are shown');
  check(await main.locator('#setup .param').count() >= 5, 'the setup parameters are shown');
  await shot(main, '01-loaded');
});

test('moving a slider changes the parameter; Run streams records into the charts', async () => {
  await choose(main, 'exchange_demo');
  // exchange.chi is a lever with a finite range: a slider.
  const slider = main.locator('[data-name="exchange.saving"] input[type=range]');
  await slider.fill('0.5');
  await slider.dispatchEvent('change');
  const saving = await main.evaluate(() => S.values['exchange.saving']);
  check(Number(saving) === 0.5, `the slider set exchange.saving to 0.5 (got ${saving})`);
  check(await main.locator('[data-name="exchange.saving"].changed').count() === 1, 'the changed parameter is highlighted');
  await main.selectOption('[id="p-exchange.rule"]', 'saving');
  await setParam(main, 'exchange.agents', 2000);
  await main.selectOption('#speed', '10');
  await main.click('#run');
  await main.waitForFunction(() => S.run && S.run.records.length >= 4);
  const early = await main.evaluate(() => S.charts[0].u.data[0].length);
  await main.waitForFunction((n) => S.charts[0].u.data[0].length > n + 3, early);
  const later = await main.evaluate(() => S.charts[0].u.data[0].length);
  check(later > early, `the chart grew while the run went (${early} -> ${later} points)`);
  await shot(main, '02-running');
  await main.selectOption('#speed', '0');
  await waitState(main, ['complete']);
  const status = await main.textContent('#status');
  check(/finished/.test(status), `the status says the run finished (${status})`);
  const overrides = await main.evaluate(async () => (await api('GET', `/api/runs/${S.run.id}`)).overrides);
  check(overrides.includes('exchange.saving=0.5') && overrides.includes('exchange.rule=saving'),
    `the run got the page's values (${overrides})`);
  await shot(main, '03-finished');
});

test('a value out of range is refused with the scenario checks\' message', async () => {
  await setParam(main, 'exchange.agents', -5);
  await main.click('#reset');
  await main.waitForFunction(() => /out of range/.test(document.getElementById('message').textContent));
  const message = await main.textContent('#message');
  check(/exchange\.agents = -5 is out of range \[2, /.test(message), `the page shows the range (${message})`);
  await shot(main, '03b-bad-value');
  // The browser logs the refused request itself; that one is expected here.
  const expected = errors.filter((e) => /status of 400/.test(e));
  check(expected.length === 1, `one refused request (${errors})`);
  errors.splice(0, errors.length, ...errors.filter((e) => !/status of 400/.test(e)));
  await setParam(main, 'exchange.agents', 2000);
});

test('pause and step', async () => {
  await main.click('#reset');
  await waitState(main, ['paused']);
  check(await records(main) === 1, 'Reset leaves the run at step 0');
  await main.click('#step');
  await main.waitForFunction(() => S.run.records.length === 2 && S.run.state === 'paused');
  const step = await main.evaluate(() => S.run.step);
  check(step === 5, `Step advanced one record (record_every = 5) to step 5 (got ${step})`);
});

test('Keep as B, change a parameter, run again: A and B side by side', async () => {
  await main.selectOption('#speed', '0');
  await main.click('#run');
  await waitState(main, ['complete']);
  await main.click('#keep-b');
  await main.selectOption('[id="p-exchange.rule"]', 'random');
  await main.click('#reset');
  await waitState(main, ['paused']);
  await main.click('#run');
  await waitState(main, ['complete']);
  const table = await main.locator('#compare table').innerText();
  check(/A \(now\)/.test(table) && /B \(run/.test(table), 'the comparison names A and B');
  check(/exchange\.rule\s+random\s+saving/.test(table), `the comparison shows the rule of A and B side by side:\n${table}`);
  const gini = await main.evaluate(() => {
    const k = S.model.series.findIndex((s) => s.name === 'gini');
    return [S.run.records.at(-1)[2 + k], S.B.records.at(-1)[2 + k]];
  });
  check(gini[0] > gini[1] + 0.1, `random exchange ends more unequal than saving (gini ${gini})`);
  const lines = await main.evaluate(() => S.charts[0].u.series.map((x) => x.label).join(', '));
  check(/A \(now\)/.test(lines) && /B \(run/.test(lines), `each chart shows A and B (${lines})`);
  await shot(main, '04-compare');
  await main.click('button[data-layout="side"]');
  const titles = await main.locator('#charts .chart strong').allInnerTexts();
  check(titles[0] === 'gini — A (now)' && /^gini — B \(run/.test(titles[1]), `side by side: A left, B right (${titles.slice(0, 2)})`);
  const ranges = await main.evaluate(() => [S.charts[0].u.scales.y.min, S.charts[1].u.scales.y.min, S.charts[0].u.scales.y.max, S.charts[1].u.scales.y.max]);
  check(ranges[0] === ranges[1] && ranges[2] === ranges[3], `A and B share the y scale (${ranges})`);
  await shot(main, '04b-side-by-side');
  await main.click('button[data-layout="overlay"]');
});

test('a chart downloads as PNG and the run as its HDF5 file', async () => {
  const [png] = await Promise.all([main.waitForEvent('download'), main.locator('.chart .png').first().click()]);
  const pngPath = path.join(artefacts, 'chart-download.png');
  await png.saveAs(pngPath);
  const head = fs.readFileSync(pngPath).subarray(0, 8);
  check(head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'the chart is a PNG file');
  const [h5] = await Promise.all([main.waitForEvent('download'), main.click('#download')]);
  const h5Path = path.join(artefacts, 'run-download.h5');
  await h5.saveAs(h5Path);
  const sig = fs.readFileSync(h5Path).subarray(0, 8);
  check(sig.equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])), 'the run file is an HDF5 file');
});

test('a policy lever changes while the fishing game runs', async () => {
  await choose(main, 'cpr_fishing_game');
  await main.selectOption('#speed', '10');
  await main.click('#run');
  await main.waitForFunction(() => S.run && S.run.records.length >= 5);
  // The scenario gives the regime as a schedule; the choices are offered beside it.
  await main.selectOption('[id="p-cpr.regime"]', 'state');
  await main.waitForFunction(() => S.run.changes && S.run.changes.length === 1);
  const change = await main.evaluate(() => S.run.changes[0]);
  check(change.name === 'cpr.regime' && change.value === 'state' && change.step > 1, `the lever change is recorded (${JSON.stringify(change)})`);
  check(/from step/.test(await main.textContent('#message')), 'the page says from which step the lever applies');
  await shot(main, '05-lever');
  await main.selectOption('#speed', '0');
  await waitState(main, ['complete']);
});

test('an ensemble shows its median and band', async () => {
  await choose(main, 'exchange_demo');
  await setParam(main, 'exchange.agents', 1000);
  await main.fill('#replicas', '5');
  await main.click('#ensemble');
  await main.waitForFunction(() => S.E && S.E.result, null, { timeout: 60000 });
  const labels = await main.evaluate(() => S.charts[0].u.series.map((x) => x.label));
  check(labels.includes('ensemble median (5)') && labels.includes('10 %') && labels.includes('90 %'),
    `each chart shows the median and the band's edges (${labels})`);
  const bands = await main.evaluate(() => S.charts[0].u.bands.length);
  check(bands === 1, 'the band between 10 % and 90 % is filled');
  await shot(main, '06-ensemble');
});

test('a facilitator opens a room; a participant joins with the code and saves a run; the debrief shows it', async () => {
  await main.click('#room-button');
  await main.click('#open');
  await main.waitForFunction(() => S.me && S.me.facilitator);
  const code = (await main.textContent('#room-status .code')).trim();
  check(/^[A-Z0-9]{5}$/.test(code), `a room code is shown (${code})`);

  const guest = await newPage();
  await guest.goto(`${url}?room=${code}`);
  await guest.waitForSelector('#room-dialog[open]');
  check((await guest.inputValue('#join-code')) === code, 'the code from the link is filled in');
  await guest.fill('#join-name', 'Table 3');
  await guest.click('#join');
  await guest.waitForFunction(() => S.me && S.me.room && !S.me.facilitator);
  await choose(guest, 'exchange_demo');
  await guest.selectOption('#speed', '0');
  await guest.click('#run');
  await waitState(guest, ['complete']);
  guest.once('dialog', (d) => d.accept('random exchange, 10 000 agents'));
  await guest.click('#save-room');
  await guest.waitForFunction(() => /Saved/.test(document.getElementById('message').textContent));
  await shot(guest, '07-participant');

  await main.click('#debrief-tab');
  await main.waitForFunction(() => S.debrief.data && S.debrief.data.saved.length === 1, null, { timeout: 15000 });
  const table = await main.locator('#debrief-table').innerText();
  check(/Table 3/.test(table) && /random exchange/.test(table), `the debrief lists the participant's run:\n${table}`);
  check(await main.locator('#debrief-charts .chart').count() >= 1, 'the debrief charts the saved runs');
  await shot(main, '08-debrief', true);

  // A participant's runs are their own.
  const theirs = await guest.evaluate(() => S.run.id);
  const token = await main.evaluate(() => S.token);
  const { status } = await fetch(`${url}api/runs/${theirs}`, { headers: { 'X-Token': token } });
  check(status === 403, `the facilitator cannot open a participant's run (${status})`);
});

for (const t of tests) {
  const start = Date.now();
  try {
    await t.fn();
    check(errors.length === 0, `no errors in the page: ${errors.join('; ')}`);
    passed++;
    console.log(`ok - ${t.name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    errors.length = 0;
    console.log(`not ok - ${t.name}\n  ${e.message.split('\n').join('\n  ')}`);
    await shot(main, `failed-${tests.indexOf(t) + 1}`).catch(() => {});
  }
}
await browser.close();
server.kill('SIGTERM');
console.log(`screenshots: ${artefacts}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
