// [voice-gateway.config] gemini_url: empty means Google's endpoint; a URL that would send the key in clear or carries credentials is refused with its key named.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, UserError, type Config } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';

async function load(toml: string): Promise<Config> {
  await using dir = await tempDir();
  const configDir = join(dir.path, 'cfg');
  await mkdir(configDir);
  await writeFile(join(configDir, 'config.toml'), toml);
  return loadConfig({ configDir, cacheDir: join(dir.path, 'cache'), env: {} });
}

const withUrl = (url: string) => `[voice-gateway.config]\ngemini_url = ${JSON.stringify(url)}\n`;

describe('voice-gateway.config.gemini_url', () => {
  test('defaults to empty (Google) and takes wss:// or a loopback ws:// stand-in', async () => {
    assert.equal((await load('')).values['voice-gateway'].config.gemini_url, '');
    for (const url of ['wss://live.example.com/ws/x', 'ws://127.0.0.1:9999/ws/x', 'ws://localhost:1/ws']) {
      assert.equal((await load(withUrl(url))).values['voice-gateway'].config.gemini_url, url);
    }
  });

  test('refuses clear-text remote URLs, credentials and junk, naming the key', async () => {
    for (const [url, why] of [
      ['ws://gemini.example.com/ws', /wss:\/\//],
      ['https://generativelanguage.googleapis.com/', /wss:\/\//],
      ['wss://generativelanguage.googleapis.com/ws?key=AIzaSecret', /credentials/],
      ['wss://user:pw@example.com/ws', /credentials/],
      ['nope', /not a URL/],
    ] as const) {
      const err = await load(withUrl(url)).then(
        () => assert.fail(`accepted ${url}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, /voice-gateway\.config\.gemini_url/);
      assert.match(err.message, why);
    }
  });
});
