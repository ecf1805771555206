// Server-rendered pages of the authorization server: consent, sign-in choice, device code, errors.
import { escapeHtml, htmlPage } from '../http/index.js';
import { MCP_READ_SCOPES, MCP_SCOPE_LABELS, MCP_SCOPES } from '../api/index.js';

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  clientId: string;
  redirectHost: string;
  /** Requested scopes. */
  scopes: string[];
  username: string;
  device: boolean;
}

/** Read scopes start ticked, write and admin ones do not: granting more must be a choice. */
export function consentPage(v: ConsentView): string {
  const rows = MCP_SCOPES.filter((s) => v.scopes.includes(s))
    .map(
      (s) =>
        `<li><label><input type="checkbox" name="scope" value="${escapeHtml(s)}"${MCP_READ_SCOPES.includes(s) ? ' checked' : ''}> ${escapeHtml(MCP_SCOPE_LABELS[s])} <code>${escapeHtml(s)}</code></label></li>`,
    )
    .join('');
  const where = v.device
    ? '<p>It asked from another device (a device code).</p>'
    : `<p>After you decide you go back to <strong>${escapeHtml(v.redirectHost)}</strong>.</p>`;
  return htmlPage(
    'Connect an app',
    `<h1>Allow ${escapeHtml(v.clientName)} to use caic?</h1>
<p><strong>${escapeHtml(v.clientName)}</strong> (<code>${escapeHtml(v.clientId)}</code>) asks to act as <strong>${escapeHtml(v.username)}</strong> on this caic server.</p>
${where}
<form method="post" action="/oauth/interaction/${escapeHtml(v.uid)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<fieldset><legend>It may:</legend><ul style="list-style:none;padding-left:0">${rows}</ul></fieldset>
<p><button class="btn" type="submit" name="decision" value="allow">Allow</button>
<button class="btn" type="submit" name="decision" value="deny">Deny</button></p>
</form>
<p>You can see and revoke connected apps in caic's Settings.</p>`,
  );
}

export function chooseLoginPage(links: { provider: string; href: string }[]): string {
  return htmlPage(
    'Sign in',
    `<h1>Sign in to caic</h1><p>An app asks to connect to caic. Sign in first:</p>${links
      .map((l) => `<a class="btn" href="${escapeHtml(l.href)}">Sign in with ${escapeHtml(l.provider)}</a>`)
      .join('')}`,
  );
}

export function errorPage(title: string, message: string): string {
  return htmlPage(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to caic</a></p>`);
}

export function deviceInputPage(form: string, err?: string): string {
  return htmlPage(
    'Connect a device',
    `<h1>Connect a device</h1>${err ? `<p><strong>${escapeHtml(err)}</strong></p>` : ''}<p>Enter the code your device shows.</p>${form}`,
  );
}

export function deviceConfirmPage(form: string, userCode: string, clientName: string): string {
  return htmlPage(
    'Connect a device',
    `<h1>Connect ${escapeHtml(clientName)}?</h1><p>Check that your device shows <code>${escapeHtml(userCode)}</code>.</p>${form}`,
  );
}
