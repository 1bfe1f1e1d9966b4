// The demo page's JavaScript: loads the demo's Rust code (built by `scripts/web-demo.sh build`
// into ./pkg), fetches two committed Go reactors and runs them side by side, showing their output
// as it is written and every go_tick result. Sets <body data-done> when both have ended, for
// scripts/web-demo-check.mjs.
import init, { run_reactor } from './pkg/go_reactor_web_demo.js';

const pageStatus = document.getElementById('page-status');

async function run(name) {
  const section = document.getElementById(name);
  const stdout = section.querySelector('.stdout');
  const ticks = section.querySelector('.ticks');
  const status = section.querySelector('.status');
  const seen = [];
  status.textContent = 'running…';
  try {
    const response = await fetch(`../../guests/wasm/${name}.wasm`);
    if (!response.ok) throw new Error(`fetching ${name}.wasm: HTTP ${response.status}`);
    const wasm = new Uint8Array(await response.arrayBuffer());
    const outcome = await run_reactor(
      name,
      wasm,
      (text) => { stdout.textContent += text; },
      (tick) => { seen.push(tick); ticks.textContent = seen.join(', '); },
    );
    if (seen.length === 0) ticks.textContent = '(none: the program ended inside its first go_tick)';
    status.textContent = outcome;
    return true;
  } catch (e) {
    status.textContent = `error: ${e}`;
    return false;
  }
}

try {
  await init();
  pageStatus.textContent = 'running…';
  const ok = await Promise.all([run('hello'), run('timers')]);
  pageStatus.textContent = ok.every(Boolean) ? 'done' : 'failed';
} catch (e) {
  pageStatus.textContent = `error: ${e}`;
}
document.body.dataset.done = 'true';
