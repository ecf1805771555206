// The commit a sync makes of the agent's uncommitted work: who it is authored by (the signed-in
// user, else the host's git identity) and its message (the agent's own summary of the change).
import { git } from './repos.js';

export interface GitIdentity {
  name: string;
  email: string;
}

/** When neither a signed-in user nor the host's git configuration names anyone. */
export const FALLBACK_IDENTITY: GitIdentity = { name: 'caic', email: 'caic@localhost' };

const SUBJECT_CHARS = 72;
const BODY_CHARS = 2_000;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * A name or address as git can take it: one line, no control characters, none of the `<>` that
 * delimit the address in an ident; null when nothing is left.
 */
function identPart(s: string | undefined, max = 200): string | null {
  const v = (s ?? '').replace(CONTROL, ' ').replace(/[<>]/g, '').replace(/\s+/g, ' ').trim().slice(0, max);
  return v || null;
}

/** A complete identity, cleaned, or null when a part is missing. */
export function cleanIdentity(id: Partial<GitIdentity> | null | undefined): GitIdentity | null {
  const name = identPart(id?.name);
  const email = identPart(id?.email);
  return name && email && /^[^\s@]+@[^\s@]+$/.test(email) ? { name, email } : null;
}

/** `git config user.name/email` as the host repository sees them (its own, global, system). */
export async function hostGitIdentity(repoPath: string): Promise<GitIdentity | null> {
  const get = (key: string) => git(repoPath, ['config', '--get', key]).then((v) => v.trim(), () => '');
  const [name, email] = await Promise.all([get('user.name'), get('user.email')]);
  return cleanIdentity({ name, email });
}

/** The signed-in user's identity, else the host's git identity, else FALLBACK_IDENTITY. */
export async function commitAuthor(user: Partial<GitIdentity> | null, repoPath: string): Promise<GitIdentity> {
  return cleanIdentity(user) ?? (await hostGitIdentity(repoPath)) ?? FALLBACK_IDENTITY;
}

/**
 * The commit message: the first paragraph of the agent's last result (a subject line of at most
 * 72 characters, then the rest of that paragraph, bounded), else the task's title.
 */
export function commitMessage(result: string, title: string): string {
  const clean = result.replace(/\r\n?/g, '\n').replace(CONTROL, ' ').replace(/\t/g, ' ');
  const paragraph = clean.trim().split(/\n\s*\n/)[0]?.trim() ?? '';
  const lines = paragraph
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  let subject = (lines.shift() ?? '').replace(/^#{1,6}\s+/, '');
  let body = lines.join('\n');
  if (!subject) return (identPart(title, SUBJECT_CHARS) ?? 'caic task').trim();
  if (subject.length > SUBJECT_CHARS) {
    const cut = subject.slice(0, SUBJECT_CHARS - 1);
    const space = cut.lastIndexOf(' ');
    const head = space > SUBJECT_CHARS / 2 ? cut.slice(0, space) : cut;
    body = `${subject.slice(head.length).trim()}${body ? `\n${body}` : ''}`;
    subject = `${head}…`;
    body = `…${body}`;
  }
  if (body.length > BODY_CHARS) body = `${body.slice(0, BODY_CHARS - 1)}…`;
  return body ? `${subject}\n\n${body}` : subject;
}
