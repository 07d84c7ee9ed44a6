/**
 * A live `chanperf serve` on the planted demo, for the Cockpit's JavaScript tests.
 *
 * The demo database is generated once (`chanperf demo --as-of 2026-06-30`, about a minute)
 * or taken from CHANPERF_E2E_DEMO_DB, which `make test` fills once for every suite. Each
 * server runs on a private copy of it (tests approve and reject proposals), on a free
 * loopback port, with one fresh key per role, and is stopped by its process id.
 *
 * `node cockpit/testing/live-chanperf.mjs PATH` generates the demo database at PATH.
 */

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEMO_AS_OF = '2026-06-30';
export const ROLES = ['viewer', 'analyst', 'approver'];

const CHANPERF = process.env.CHANPERF_BIN || join(REPO_ROOT, '.venv/bin/chanperf');

function chanperfBinary() {
  if (!existsSync(CHANPERF)) {
    throw new Error(`${CHANPERF} not found: run \`make demo\` (or set CHANPERF_BIN) first`);
  }
  return CHANPERF;
}

/** The environment of a chanperf process: ours without any CHANPERF_* setting, plus `extra`. */
function cleanEnv(extra) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('CHANPERF_')),
  );
  return { ...env, ...extra };
}

function run(args, { cwd, env }) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(chanperfBinary(), args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise(output)
        : reject(new Error(`chanperf ${args.join(' ')} exited ${code}:\n${output.slice(-4000)}`)),
    );
  });
}

/** Generate the planted demo as of DEMO_AS_OF into `path`. */
export async function generateDemo(path) {
  await run(['--database-url', `sqlite:///${path}`, 'demo', '--as-of', DEMO_AS_OF], {
    cwd: dirname(path),
    env: cleanEnv({}),
  });
  return path;
}

let generated = null;

/** The template demo database: CHANPERF_E2E_DEMO_DB, or one generated for this process. */
export async function demoDatabase() {
  const given = process.env.CHANPERF_E2E_DEMO_DB;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHANPERF_E2E_DEMO_DB=${given} does not exist`);
    return given;
  }
  generated ??= mkdtemp(join(tmpdir(), 'chanperf-demo-')).then((dir) =>
    generateDemo(join(dir, 'demo.db')),
  );
  return generated;
}

/** A fresh key per role: what `chanperf apikey new` prints, made here. */
export function makeKeys(suffix = 'e2e') {
  const keys = {};
  const lines = [];
  for (const role of ROLES) {
    const key = `cpk_${randomBytes(32).toString('base64url')}`;
    keys[role] = key;
    lines.push(`${role}-${suffix}:${role}:1:${createHash('sha256').update(key).digest('hex')}`);
  }
  return { keys, config: lines.join(';') };
}

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

async function waitUntilUp(url, child, logFile, deadlineMs = 60_000) {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    if (child.exitCode !== null) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`chanperf serve exited ${child.exitCode}:\n${log.slice(-4000)}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`chanperf serve did not answer ${url}/health within ${deadlineMs} ms`);
}

/**
 * Start `chanperf serve` (gunicorn) on a copy of the demo database.
 * @returns {Promise<{url: string, keys: Record<string, string>, database: string, stop: () => Promise<void>}>}
 */
export async function startChanperf() {
  const template = await demoDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'chanperf-serve-'));
  const database = join(dir, 'demo.db');
  await copyFile(template, database);
  const { keys, config } = makeKeys();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'serve.log');
  const log = openSync(logFile, 'w');
  const child = spawn(
    chanperfBinary(),
    ['--database-url', `sqlite:///${database}`, 'serve', '--host', '127.0.0.1', '--port', String(port)],
    { cwd: dir, env: cleanEnv({ CHANPERF_API_KEYS: config }), stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitUntilUp(url, child, logFile);
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGTERM');
    throw error;
  }
  return {
    url,
    keys,
    database,
    logFile,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (!process.argv[2]) throw new Error('usage: node live-chanperf.mjs PATH (the demo database to write)');
  await generateDemo(resolve(process.argv[2]));
  console.log(`planted demo as of ${DEMO_AS_OF}: ${resolve(process.argv[2])}`);
}
