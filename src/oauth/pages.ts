// Server-rendered pages of the authorization server: consent, sign-in choice, device code, errors.
import { escapeHtml, htmlPage } from '../http/index.js';
import { API_SCOPE, API_SCOPE_LABEL, MCP_READ_SCOPES, MCP_SCOPE_LABELS, MCP_SCOPES, type McpScope } from '../api/index.js';

/** What a scope lets a client do, in the consent page's words. */
function scopeLabel(scope: string): string {
  return scope === API_SCOPE ? API_SCOPE_LABEL : (MCP_SCOPE_LABELS[scope as McpScope] ?? scope);
}

/** Pre-ticked: reading scopes, and the one scope a device pairing asks for (the person started the pairing). */
function tickedByDefault(scope: string): boolean {
  return scope === API_SCOPE || MCP_READ_SCOPES.includes(scope as McpScope);
}

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
  /** A device pairing: tokens for the REST API. */
  pairing?: boolean;
}

/** Read scopes start ticked, write and admin ones do not: granting more must be a choice. */
export function consentPage(v: ConsentView): string {
  const rows = [...MCP_SCOPES, API_SCOPE]
    .filter((s) => v.scopes.includes(s))
    .map(
      (s) =>
        `<li><label><input type="checkbox" name="scope" value="${escapeHtml(s)}"${tickedByDefault(s) ? ' checked' : ''}> ${escapeHtml(scopeLabel(s))} <code>${escapeHtml(s)}</code></label></li>`,
    )
    .join('');
  const where = v.pairing
    ? '<p>This pairs a device (a phone app or the <code>caic</code> command) with your account until you revoke it in Settings → Connected apps.</p>'
    : v.device
      ? '<p>It asked from another device (a device code).</p>'
      : `<p>After you decide you go back to <strong>${escapeHtml(v.redirectHost)}</strong>.</p>`;
  return htmlPage(
    v.pairing ? 'Pair a device' : 'Connect an app',
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
    `<h1>Connect a device</h1>${err ? `<p><strong>${escapeHtml(err)}</strong></p>` : ''}<p>Enter the code your device shows.</p>${form}<p><button class="btn" type="submit" form="op.deviceInputForm">Continue</button></p>`,
  );
}

/** The device names itself (its registered client name); the scopes are what it asks for. */
export function deviceConfirmPage(form: string, userCode: string, clientName: string, clientId: string, scopes: string[]): string {
  const asks = scopes.map((s) => `<li>${escapeHtml(scopeLabel(s))} <code>${escapeHtml(s)}</code></li>`).join('');
  return htmlPage(
    'Connect a device',
    `<h1>Connect ${escapeHtml(clientName)}?</h1><p>The device <strong>${escapeHtml(clientName)}</strong> (<code>${escapeHtml(clientId)}</code>) asks to:</p><ul>${asks}</ul><p>Check that your device shows <code>${escapeHtml(userCode)}</code>; if it does not, cancel.</p>${form}<p><button class="btn" type="submit" form="op.deviceConfirmForm">Continue</button> <button class="btn" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button></p>`,
  );
}
