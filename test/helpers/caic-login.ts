// A caic server with login for `caic` client tests: the daemon behind a TLS front at an https://
// external URL (a certificate the CLI trusts through NODE_EXTRA_CA_CERTS), the GitHub stand-in, a
// Chromium where a person approves `caic login`'s code.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gotoRetrying, launchBrowser, type TestBrowser } from './browser.js';
import { startCli, type CliResult, runCli } from './caic-cli.js';
import { startTestDaemon } from './daemon.js';
import { freePort } from './ports.js';
import { githubLoginToml, startStubForge, type StubForge } from './stub-forge.js';
import { taskEnv, type TaskEnv } from './task-env.js';
import { startTlsProxy, type TlsProxy } from './tls-proxy.js';
import { tempDir } from './tmp.js';

export interface LoginServer extends AsyncDisposable {
  origin: string;
  /** The daemon's own (plain http) URL. */
  daemonUrl: string;
  /** With `tasks`: the task environment (a repository `proj` with an origin). */
  env: TaskEnv | null;
  browser: TestBrowser;
  stub: StubForge;
  /** The CLI's environment: its own HOME and config dir, CAIC_SERVER = origin. */
  cliEnv: NodeJS.ProcessEnv;
  tokenFile: string;
  /** Everything the CLI printed so far (no token may ever appear in it). */
  printed: string[];
  caic(...args: string[]): Promise<CliResult>;
  /** `caic login` while a person approves its code in the browser; asserts it signed in. */
  login(): Promise<void>;
  /** The name the device shows under in Settings (`caic on <hostname>`). */
  deviceName: string;
}

export async function startLoginServer(opts: { tasks: boolean }): Promise<LoginServer> {
  const stub = await startStubForge();
  stub.user = { id: 1001, username: 'octocat' };
  const port = await freePort();
  const origin = `https://127.0.0.1:${port}`;
  const loginToml = `external_url = "${origin}"\n${githubLoginToml(stub, ['octocat'])}`;
  const env = opts.tasks ? await taskEnv({ files: 2, extraConfig: loginToml }) : null;
  const plain = env ? null : await startTestDaemon(`[server]\nallow_origins = ["local"]\n${loginToml}`);
  const daemonUrl = env ? env.d.url : plain!.url;
  const dir = env?.dir ?? plain!.dir;
  const tls: TlsProxy = await startTlsProxy('127.0.0.1', new URL(daemonUrl), port);
  const browser = await launchBrowser({ ignoreHTTPSErrors: true });
  const ca = join(dir.path, 'ca.pem');
  await writeFile(ca, tls.cert);
  const home = (await tempDir('caic-cli-home-')).path;
  const cliEnv = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), NODE_EXTRA_CA_CERTS: ca, CAIC_SERVER: origin };
  const printed: string[] = [];
  const deviceName = `caic on ${hostname()}`;
  const s: LoginServer = {
    origin,
    daemonUrl,
    env,
    browser,
    stub,
    cliEnv,
    tokenFile: join(home, '.config', 'caic', 'cli', `https_127.0.0.1_${port}.json`),
    printed,
    deviceName,
    async caic(...args) {
      const r = await runCli(args, cliEnv);
      printed.push(r.stdout, r.stderr);
      return r;
    },
    async login() {
      await using c = startCli(['login', origin], cliEnv);
      const [, url = '', code = ''] = await c.waitFor(/open\n {2}(https:\S+)\nand check that the page shows the code {2}(\S+)\n/);
      assert.equal(url, `${origin}/oauth/device?user_code=${encodeURIComponent(code)}`);
      const page = await browser.newPage();
      await gotoRetrying(page, url);
      await page.getByRole('heading', { name: `Connect ${deviceName}?` }).waitFor();
      assert.ok((await page.locator('body').innerText()).includes(code), 'the page shows the code the terminal shows');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.getByRole('heading', { name: 'Device connected' }).waitFor();
      await page.close();
      const r = await c.done(60_000);
      printed.push(r.stdout, r.stderr);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`signed in to ${origin.replace(/\./g, '\\.')} as octocat`));
    },
    async [Symbol.asyncDispose]() {
      await browser[Symbol.asyncDispose]();
      await tls[Symbol.asyncDispose]();
      if (env) await env[Symbol.asyncDispose]();
      if (plain) await plain[Symbol.asyncDispose]();
      await stub.close();
    },
  };
  return s;
}
