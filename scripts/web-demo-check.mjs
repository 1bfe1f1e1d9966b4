#!/usr/bin/env node
// Checks the web demo (examples/web, built by `scripts/web-demo.sh build`) as a person would see
// it: serves the repository on 127.0.0.1, opens the page in headless Chromium through chromedriver
// (plain WebDriver over HTTP, no dependencies beyond Node >= 18), waits until both Go programs
// have ended, and asserts what the page shows: hello's greeting, the timers fixture's whole
// output in order (guests/programs/timers/expected/stdout), both exit codes, and the go_tick
// sequence reporting timers. Saves a screenshot to target/web-demo.png.
//
//   node scripts/web-demo-check.mjs
//
// CHROMIUM and CHROMEDRIVER override the binaries (default: from PATH).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
const TIMEOUT_MS = 60_000;

/// A static file server for the repository, on an ephemeral port of 127.0.0.1.
function serve() {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    let file = path;
    try {
      if (!path.startsWith(root + sep)) throw new Error('outside the repository');
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function freePort() {
  const s = await new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => ok(srv));
  });
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function webdriver(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

const results = { passed: 0, failed: 0 };
function check(name, ok, detail) {
  if (ok) {
    results.passed++;
    console.log(`ok   ${name}`);
  } else {
    results.failed++;
    console.log(`FAIL ${name}${detail === undefined ? '' : `\n     ${detail}`}`);
  }
}

const server = await serve();
const url = `http://127.0.0.1:${server.address().port}/examples/web/`;
const port = await freePort();
const driver = spawn(process.env.CHROMEDRIVER ?? 'chromedriver', [`--port=${port}`], { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
const profile = mkdtempSync(join(tmpdir(), 'go-reactor-chromium-'));
let session;
try {
  for (let t = Date.now(); ; await sleep(100)) {
    try {
      if ((await webdriver(base, 'GET', '/status')).ready) break;
    } catch (e) {
      if (Date.now() - t > 20_000) throw new Error(`chromedriver did not start: ${e}`);
    }
  }
  // No network here: keep Chromium from reaching for it, and give it an empty profile.
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--window-size=900,1100',
    `--user-data-dir=${profile}`];
  const chromeOptions = { args, binary: process.env.CHROMIUM ?? '/usr/bin/chromium' };
  session = (await webdriver(base, 'POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': chromeOptions } },
  })).sessionId;
  const s = `/session/${session}`;
  await webdriver(base, 'POST', `${s}/url`, { url });

  // Poll the page until both programs have ended, noting how the timers output grew meanwhile.
  const read = `
    const text = (sel) => document.querySelector(sel)?.textContent ?? '';
    return { done: document.body.dataset.done === 'true', page: text('#page-status'),
      helloOut: text('#hello .stdout'), helloStatus: text('#hello .status'),
      timersOut: text('#timers .stdout'), timersStatus: text('#timers .status'), timersTicks: text('#timers .ticks') };`;
  let page;
  const partial = new Set();
  for (const start = Date.now(); ; await sleep(5)) {
    page = await webdriver(base, 'POST', `${s}/execute/sync`, { script: read, args: [] });
    if (page.done) break;
    if (page.timersOut) partial.add(page.timersOut);
    if (Date.now() - start > TIMEOUT_MS) throw new Error(`the page did not finish in ${TIMEOUT_MS} ms: ${JSON.stringify(page)}`);
  }
  mkdirSync(join(root, 'target'), { recursive: true });
  const png = join(root, 'target', 'web-demo.png');
  writeFileSync(png, Buffer.from(await webdriver(base, 'GET', `${s}/screenshot`), 'base64'));

  const timersWant = readFileSync(join(root, 'guests/programs/timers/expected/stdout'), 'utf8');
  check('the page ran both programs', page.page === 'done', `page status: ${page.page}`);
  check('hello shows "Hello from Go WASI reactor!"', page.helloOut === 'Hello from Go WASI reactor!\n', JSON.stringify(page.helloOut));
  check('hello exited with code 0', page.helloStatus === 'exited with code 0', page.helloStatus);
  check('timers shows its whole output, in order', page.timersOut === timersWant, JSON.stringify(page.timersOut));
  check('timers exited with code 0', page.timersStatus === 'exited with code 0', page.timersStatus);
  const timerTicks = page.timersTicks.split(', ').filter((t) => t.startsWith('timer ')).length;
  check('the go_tick sequence reports timers (at least 5)', timerTicks >= 5, page.timersTicks);
  console.log(`     go_tick sequence of timers: ${page.timersTicks}`);
  console.log(`     partial timers outputs seen while it ran: ${partial.size}; screenshot: ${png}`);
} catch (e) {
  check('the demo page loads and finishes', false, e.stack ?? String(e));
} finally {
  if (session) await webdriver(base, 'DELETE', `/session/${session}`).catch(() => {});
  driver.kill();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`web demo: ${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed === 0 && results.passed > 0 ? 0 : 1);
