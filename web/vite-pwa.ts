// The installable app: writes the web app manifest, its PNG icons (drawn here, no image tool) and the
// service worker (web/pwa/sw.js with this build's hashed assets and a version named by them).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync, crc32 } from 'node:zlib';
import type { Plugin } from 'vite';

export const THEME_COLOR = '#1f2430';
const BRAND = [0x3b, 0x5b, 0xdb] as const;

/** One PNG chunk: length, type, data, CRC of type + data. */
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** RGBA pixels → PNG (8-bit, colour type 6, no filter). */
export function encodePng(size: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    Buffer.from(rgba.buffer, rgba.byteOffset + y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

function segDist(px: number, py: number, x1: number, x2: number, y: number): number {
  const cx = Math.max(x1, Math.min(x2, px));
  return Math.hypot(px - cx, py - y);
}

/**
 * The favicon's picture (a rounded square with three lines, on a 32-unit grid) at `size` pixels.
 * `maskable`: the background fills the square and the lines shrink into the safe zone (the inner 80 %)
 * an installer may crop to a circle.
 */
export function drawIcon(size: number, maskable: boolean): Buffer {
  const px = new Uint8Array(size * size * 4);
  const lines: [number, number, number][] = [
    [9, 23, 11],
    [9, 19, 16],
    [9, 21, 21],
  ];
  const scale = maskable ? 0.7 : 1;
  const S = 4; // supersamples per axis
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let bg = 0;
      let fg = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const u = ((x + (sx + 0.5) / S) / size) * 32;
          const v = ((y + (sy + 0.5) / S) / size) * 32;
          // Rounded square, radius 7 (full bleed when maskable).
          const r = maskable ? 0 : 7;
          const dx = Math.max(r - u, 0, u - (32 - r));
          const dy = Math.max(r - v, 0, v - (32 - r));
          if (dx * dx + dy * dy > r * r) continue;
          bg++;
          const lu = (u - 16) / scale + 16;
          const lv = (v - 16) / scale + 16;
          if (lines.some(([x1, x2, ly]) => segDist(lu, lv, x1, x2, ly) <= 1.3)) fg++;
        }
      }
      const a = bg / (S * S);
      const f = bg ? fg / bg : 0;
      const i = (y * size + x) * 4;
      px[i] = Math.round(BRAND[0] + (255 - BRAND[0]) * f);
      px[i + 1] = Math.round(BRAND[1] + (255 - BRAND[1]) * f);
      px[i + 2] = Math.round(BRAND[2] + (255 - BRAND[2]) * f);
      px[i + 3] = Math.round(a * 255);
    }
  }
  return encodePng(size, px);
}

export const ICONS = [
  { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any', size: 192, maskable: false },
  { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any', size: 512, maskable: false },
  { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable', size: 512, maskable: true },
  { src: '/icons/apple-touch-icon.png', sizes: '180x180', type: 'image/png', purpose: 'any', size: 180, maskable: true },
] as const;

export function manifest(): string {
  return `${JSON.stringify(
    {
      id: '/',
      name: 'caic: coding agents in containers',
      short_name: 'caic',
      description: 'Run and follow coding agents in containers.',
      start_url: '/',
      scope: '/',
      display: 'standalone',
      theme_color: THEME_COLOR,
      background_color: THEME_COLOR,
      icons: ICONS.map(({ src, sizes, type, purpose }) => ({ src, sizes, type, purpose })),
    },
    null,
    2,
  )}\n`;
}

/** Emits manifest.webmanifest, the icons and sw.js into the build. */
export function pwa(swSource: string): Plugin {
  return {
    name: 'caic-pwa',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const assets = Object.keys(bundle)
        .filter((f) => f.startsWith('assets/'))
        .sort()
        .map((f) => `/${f}`);
      const html = bundle['index.html'];
      const shell = html && html.type === 'asset' ? String(html.source) : '';
      // The cache's version: the hashed names and the shell; a new build gets a new cache.
      const version = createHash('sha256').update(assets.join('\n')).update(shell).digest('hex').slice(0, 16);
      const sw = readFileSync(swSource, 'utf8').replace("'__CAIC_VERSION__'", JSON.stringify(version)).replace('__CAIC_ASSETS__', JSON.stringify(assets));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: sw });
      this.emitFile({ type: 'asset', fileName: 'manifest.webmanifest', source: manifest() });
      for (const icon of ICONS) this.emitFile({ type: 'asset', fileName: icon.src.slice(1), source: drawIcon(icon.size, icon.maskable) });
    },
  };
}
