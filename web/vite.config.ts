// Vite build of the web UI into web/dist, plus brotli and gzip copies of every compressible asset
// so the daemon serves them precompressed (no compression work per request), and the installable
// app's manifest, icons and service worker (vite-pwa.ts).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { pwa } from './vite-pwa.ts';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = join(root, 'dist');
const COMPRESSIBLE = /\.(js|css|html|svg|json|txt|map|webmanifest)$/;

async function* files(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else yield p;
  }
}

/** Writes <file>.br and <file>.gz next to each compressible output larger than 1 KiB. */
function precompress(): Plugin {
  return {
    name: 'caic-precompress',
    apply: 'build',
    async closeBundle() {
      for await (const f of files(outDir)) {
        if (!COMPRESSIBLE.test(f)) continue;
        const data = await readFile(f);
        if (data.length < 1024) continue;
        await writeFile(`${f}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
        await writeFile(`${f}.gz`, gzipSync(data, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root,
  plugins: [react(), pwa(join(root, 'pwa', 'sw.js')), precompress()],
  build: { outDir, emptyOutDir: true, sourcemap: false, target: 'es2022', chunkSizeWarningLimit: 800 },
  server: { proxy: { '/api': 'http://127.0.0.1:2242' } },
});
