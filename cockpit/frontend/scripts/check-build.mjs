// Fails when the page shipped in the Python package (api/static/performance) is not
// what a fresh build of this folder makes: build into a temporary folder, compare bytes.
// Run after `npm ci` so the build uses the lockfile's versions.

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const shipped = fileURLToPath(new URL('../../../api/static/performance', import.meta.url));

async function digests(dir) {
  const out = new Map();
  async function walk(current) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(dir, path), createHash('sha256').update(await readFile(path)).digest('hex'));
    }
  }
  await walk(dir).catch((error) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return out;
}

const fresh = await mkdtemp(join(tmpdir(), 'chanperf-page-'));
try {
  await build({ root, logLevel: 'warn', build: { outDir: fresh, emptyOutDir: true } });
  const [want, have] = await Promise.all([digests(fresh), digests(shipped)]);
  const names = [...new Set([...want.keys(), ...have.keys()])].sort();
  const differences = names.flatMap((name) => {
    if (!have.has(name)) return [`missing from api/static/performance: ${name}`];
    if (!want.has(name)) return [`not made by the build: ${name}`];
    return want.get(name) === have.get(name) ? [] : [`differs: ${name}`];
  });
  if (differences.length) {
    console.error('The page shipped in api/static/performance is not a fresh build of cockpit/frontend:');
    for (const line of differences) console.error(`  ${line}`);
    console.error('Rebuild it (cd cockpit/frontend && npm ci && npm run build) and commit api/static/performance.');
    process.exitCode = 1;
  } else {
    console.log(`api/static/performance is a fresh build of cockpit/frontend (${names.length} files).`);
  }
} finally {
  await rm(fresh, { recursive: true, force: true });
}
