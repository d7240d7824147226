// The demo server under test, owned by the test file that starts it.
//
// Each test file starts its own demo (`hyperstate-demo`) on a free loopback port
// with a fresh, empty data directory, and can restart it on the same port and
// data directory (what a person sees when the server is redeployed under an open
// tab). Every process started here is killed when the test process exits, and
// its pid is kept in `$HYPERSTATE_E2E_RUN_DIR/pids/` while it runs, so that
// scripts/e2e can kill it (by that pid) even if this process dies first.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');

/** Path of the demo binary: `$HYPERSTATE_E2E_DEMO_BIN`, else the debug build. */
export const demoBin =
  process.env.HYPERSTATE_E2E_DEMO_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(repoRoot, 'target'), 'debug', 'hyperstate-demo');

// scripts/e2e provides (and deletes) the run directory; run without it, this
// process makes its own and deletes it on exit.
const ownRunDir = !process.env.HYPERSTATE_E2E_RUN_DIR;
const runDir = process.env.HYPERSTATE_E2E_RUN_DIR || mkdtempSync(join(tmpdir(), 'hyperstate-e2e-'));
const pidDir = join(runDir, 'pids');
mkdirSync(pidDir, { recursive: true });

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(join(pidDir, String(child.pid)), { force: true });
  }
  if (ownRunDir) rmSync(runDir, { recursive: true, force: true });
});

/** A port the kernel just handed out on 127.0.0.1, released for the demo to take. */
async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * The demo's environment: ours without the demo's own `HYPERSTATE_*` settings
 * (a developer's `HYPERSTATE_REDIS`, say, would keep page state across a
 * restart), so every run is the zero-setup demo a new user starts.
 */
function demoEnv() {
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', NO_COLOR: '1' };
  for (const name of Object.keys(env)) {
    if (name.startsWith('HYPERSTATE_') && !name.startsWith('HYPERSTATE_E2E_')) delete env[name];
  }
  return env;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Resolves when `child` has exited, or after `ms` with false. */
function exited(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const timer = setTimeout(() => ok(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      ok(true);
    });
  });
}

export class Demo {
  /** Starts a demo on a free port with a fresh data directory. */
  static async start() {
    if (!existsSync(demoBin)) {
      throw new Error(`demo binary not found at ${demoBin}: run \`cargo build -p hyperstate-demo\` (scripts/e2e does)`);
    }
    const demo = new Demo(mkdtempSync(join(runDir, 'data-')));
    // The free port can be taken by someone else between our probe and the
    // demo's bind: try a few.
    let lastError;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      demo.port = await freePort();
      try {
        await demo.#spawn();
        return demo;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  constructor(dataDir) {
    this.dataDir = dataDir;
    this.port = 0;
    this.child = null;
    this.logPath = '';
  }

  /** `http://127.0.0.1:PORT` + path. */
  url(path = '/') {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Stops the demo (SIGTERM, then SIGKILL after `graceMs`). */
  async stop({ signal = 'SIGTERM', graceMs = 10_000 } = {}) {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      if (!(await exited(child, graceMs))) {
        child.kill('SIGKILL');
        await exited(child, 10_000);
      }
    }
    live.delete(child);
    rmSync(join(pidDir, String(child.pid)), { force: true });
  }

  /**
   * Restarts the demo on the same port and data directory, as a redeploy would:
   * page state (in memory) is gone, durable state (on disk) is kept.
   * `signal: 'SIGKILL'` makes it a crash instead of a graceful stop.
   */
  async restart({ signal = 'SIGTERM' } = {}) {
    await this.stop({ signal });
    // The port was just freed; the bind can still race a TIME_WAIT or a slow
    // exit, so retry for a bounded while.
    let lastError;
    for (let attempt = 0; attempt < 10; attempt += 1) {
      try {
        await this.#spawn();
        return;
      } catch (err) {
        lastError = err;
        await sleep(200);
      }
    }
    throw lastError;
  }

  /** The demo's log so far (stdout and stderr of every run), for failure messages. */
  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  #logSince(offset) {
    try {
      return readFileSync(this.logPath).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  async #spawn() {
    this.logPath = join(runDir, `demo-${this.port}.log`);
    const out = openSync(this.logPath, 'a');
    const logStart = statSync(this.logPath).size;
    const child = spawn(demoBin, ['--addr', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir], {
      stdio: ['ignore', out, out],
      env: demoEnv(),
    });
    closeSync(out);
    live.add(child);
    if (child.pid !== undefined) writeFileSync(join(pidDir, String(child.pid)), '');
    child.on('exit', () => rmSync(join(pidDir, String(child.pid)), { force: true }));
    this.child = child;
    const spawnError = new Promise((_, fail) => child.once('error', fail));
    spawnError.catch(() => {});
    try {
      await Promise.race([this.#waitHealthy(child, logStart), spawnError]);
    } catch (err) {
      await this.stop({ signal: 'SIGKILL' });
      throw new Error(`the demo did not start on port ${this.port}: ${err.message}\n--- demo log ---\n${this.log()}`);
    }
  }

  /**
   * Waits (bounded) until this run of the demo has logged that it listens on
   * our port and /healthz answers, failing early if it exits. The log line makes
   * sure it is our process answering, not another that holds the port.
   */
  async #waitHealthy(child, logStart) {
    const listening = `listening on http://127.0.0.1:${this.port}`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
      }
      if (!this.#logSince(logStart).includes(listening)) {
        await sleep(50);
        continue;
      }
      try {
        const res = await fetch(this.url('/healthz'), { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error('/healthz did not answer within 30 s');
  }
}
