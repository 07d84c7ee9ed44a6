import { fileURLToPath } from 'node:url';

import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The standalone page is built into the Python package (api/static/performance), which
// `chanperf serve` serves at /performance/. Relative asset URLs: the build works under
// any prefix. No external URL anywhere: the page must work offline.
const outDir = fileURLToPath(new URL('../../api/static/performance', import.meta.url));

export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev` against a local `chanperf serve` on port 8024.
    proxy: { '/v1': 'http://127.0.0.1:8024' },
    fs: { allow: ['..'] },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./test/setup.js'],
    include: ['test/**/*.test.jsx'],
    css: false,
  },
});
