// The sync commit: its message from the agent's summary, its author from the signed-in user's
// profile, the host's git identity, or the fallback; hostile text cleaned on the way.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { gitIdentityOf, type StoredUser } from '../../src/config/index.js';
import { commitAuthor, commitMessage, FALLBACK_IDENTITY } from '../../src/tasks/index.js';
import { tempDir } from '../helpers/tmp.js';

test("the message is the first paragraph of the agent's last result, bounded; else the title", () => {
  assert.equal(commitMessage('Added FAKE_NOTES.md.', 'FAKE_DEMO'), 'Added FAKE_NOTES.md.');
  assert.equal(commitMessage('## Fixed the login redirect\nThe callback kept the old path.\n\nAlso ran the tests.', 'T'), 'Fixed the login redirect\n\nThe callback kept the old path.');
  assert.equal(commitMessage('\r\n  Done\u0000 with\u001b[31m it\r\n', 'T'), 'Done  with [31m it');
  const long = commitMessage(`${'word '.repeat(30)}end`, 'T');
  const [subject, blank, body] = long.split('\n');
  assert.ok(subject!.length <= 72 && subject!.endsWith('…'), subject);
  assert.equal(blank, '');
  assert.ok(body!.startsWith('…') && body!.endsWith('end'), 'the rest of the line moves into the body');
  assert.ok(commitMessage(`x\n${'y'.repeat(10_000)}`, 'T').length < 2_100, 'the body is bounded');
  assert.equal(commitMessage('', 'My task title'), 'My task title');
  assert.equal(commitMessage('  \n\n ', ''), 'caic task');
});

test('the author: the signed-in user, else the host repository’s git identity, else caic', async () => {
  await using dir = await tempDir('caic-commit-');
  // Only this repository's configuration counts: no global or system identity from the machine.
  process.env.GIT_CONFIG_GLOBAL = '/dev/null';
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  execFileSync('git', ['init', '-q', dir.path]);
  assert.deepEqual(await commitAuthor(null, dir.path), FALLBACK_IDENTITY);
  assert.deepEqual(FALLBACK_IDENTITY, { name: 'caic', email: 'caic@localhost' });
  execFileSync('git', ['-C', dir.path, 'config', 'user.name', 'Ada <Lovelace>']);
  assert.deepEqual(await commitAuthor(null, dir.path), FALLBACK_IDENTITY, 'a name without an email is no identity');
  execFileSync('git', ['-C', dir.path, 'config', 'user.email', 'ada@example.com']);
  assert.deepEqual(await commitAuthor(null, dir.path), { name: 'Ada Lovelace', email: 'ada@example.com' });
  assert.deepEqual(await commitAuthor({ name: 'Octo\nCat\u0000', email: 'octo@example.com' }, dir.path), { name: 'Octo Cat', email: 'octo@example.com' });
  assert.deepEqual(await commitAuthor({ name: 'Octo', email: 'not an address' }, dir.path), { name: 'Ada Lovelace', email: 'ada@example.com' });
  assert.deepEqual(await commitAuthor({ name: '', email: 'x@y' }, dir.path), { name: 'Ada Lovelace', email: 'ada@example.com' });
});

test("a user's identity: profile name and email, else the username and the provider's no-reply address", () => {
  const user = (p: Partial<StoredUser>): StoredUser => ({
    id: 'u1',
    provider: 'github',
    providerId: '4242',
    username: 'octo',
    avatarURL: '',
    name: '',
    email: '',
    accessToken: '',
    refreshToken: '',
    tokenExpiresAt: '',
    createdAt: '',
    lastLoginAt: '',
    sessionEpoch: 0,
    revokedSessions: [],
    ...p,
  });
  const urls = { github: 'https://github.com', gitlab: 'https://gitlab.com' };
  assert.deepEqual(gitIdentityOf(user({}), urls), { name: 'octo', email: '4242+octo@users.noreply.github.com' });
  assert.deepEqual(gitIdentityOf(user({ name: 'Octo Cat', email: 'octo@example.com' }), urls), { name: 'Octo Cat', email: 'octo@example.com' });
  assert.deepEqual(gitIdentityOf(user({ provider: 'gitlab', providerId: '77', username: 'gl' }), urls), { name: 'gl', email: '77-gl@users.noreply.gitlab.com' });
  assert.deepEqual(gitIdentityOf(user({}), { ...urls, github: 'https://ghe.example.com' }), { name: 'octo', email: '4242+octo@users.noreply.ghe.example.com' });
});
