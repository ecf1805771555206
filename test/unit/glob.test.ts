// The approval rules' globs (src/api/glob.ts): the same answers as picomatch (the library the rules
// were first written against, kept as the oracle here) on ordinary patterns, in linear time on the
// hostile ones a backtracking regex never finishes, and the limits the API refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import picomatch from 'picomatch';
import { compileGlob, globProblem, MAX_ALTERNATIVES, PermissionRule, TaskPermissionsReq, MAX_PERMISSION_GLOB_CHARS } from '../../src/api/index.js';
import { MAX_MATCHED_CHARS, matchRule } from '../../src/tasks/approval-rules.js';

const WORD_PATTERNS = ['git *', 'git push*', 'rm -rf /*', '*', '*.sh', 'npm run {build,test}*', 'curl *://api.example.com/*', 'ls -l?', '[gn]pm *', 'make\\*', 'a*b*c', '{a,b{c,d}}x', 'echo {}', '*[0-9]'];
const WORD_INPUTS = ['git status', 'git push origin feature/x', 'rm -rf /', 'rm -rf /home/user', 'ls', 'ls -la', 'build.sh', 'x/y.sh', 'npm run build', 'npm run test:unit', 'npm run lint', 'curl https://api.example.com/v1', 'pnpm i', 'npm i', 'rm x', 'sm x', 'make*', 'make', 'aXbYc', 'ab', 'ax', 'bcx', 'bdx', 'echo {}', 'v2', 'v'];
const PATH_PATTERNS = ['*.env', '/home/user/src/*/docs/**', '/home/user/**/*.ts', '**/secrets/*', '/etc/*', 'src/*.{ts,tsx}', '/a/**/b', '?.md', '[ab].txt', '/home/user/*'];
const PATH_INPUTS = ['/home/user/src/proj/.env', '.env', 'a.env', '/home/user/src/proj/docs/a/b.md', '/home/user/src/proj/docs/x', '/home/user/src/a.ts', '/home/user/x/y/z.ts', 'secrets/k', 'a/secrets/k', '/etc/passwd', '/etc/ssl/certs', 'src/a.ts', 'src/b.tsx', 'src/x/a.ts', '/a/b', '/a/x/b', '/a/x/y/b', 'a.md', 'ab.md', 'a.txt', 'c.txt', '/home/user/f', '/home/user/d/f'];

// (Not `[!x]`: picomatch 4 reads it as the characters ! and x; here it is bash's negated set, like `[^x]`.)
test('the same answers as picomatch on ordinary patterns, in words and in paths', () => {
  for (const p of WORD_PATTERNS) {
    const ours = compileGlob(p, { path: false });
    const theirs = picomatch(p, { bash: true, dot: true });
    for (const s of WORD_INPUTS) assert.equal(ours(s), theirs(s), `words: ${JSON.stringify(p)} on ${JSON.stringify(s)}`);
  }
  for (const p of PATH_PATTERNS) {
    const basename = !p.includes('/');
    const ours = compileGlob(p, { path: true, basename });
    const theirs = picomatch(p, { dot: true, basename });
    for (const s of PATH_INPUTS) assert.equal(ours(s), theirs(s), `path: ${JSON.stringify(p)} on ${JSON.stringify(s)}`);
  }
});

test('hostile patterns and inputs finish: no backtracking however many stars or nested repeats', { timeout: 20_000 }, () => {
  // Each of these is a regex picomatch compiles that backtracks for hours on such an input (40
  // characters already stall `*a*a*a*a*a*a*a*a*a*ab`); here each is one pass over the input.
  const long = 'a'.repeat(MAX_MATCHED_CHARS);
  for (const p of ['*a*a*a*a*a*a*a*a*a*ab', `${'*a'.repeat(400)}b`, `${'*'.repeat(999)}b`, `${'?*'.repeat(300)}b`]) {
    assert.equal(compileGlob(p, { path: false })(long), false, p.slice(0, 30));
    assert.equal(compileGlob(p, { path: true })(long), false, p.slice(0, 30));
  }
  // Through the rules, as a task's rule meets an agent's command.
  const rules = [{ tool: 'Bash', pattern: '*a*a*a*a*a*a*a*a*a*ab', action: 'deny' as const }];
  assert.equal(matchRule(rules, 'Bash', { command: long }), null);
  assert.equal(matchRule(rules, 'Bash', { command: `${long.slice(0, 100)}b` })?.action, 'deny');
});

test('an argument longer than the bound is matched by no pattern (so it is asked), a bare tool rule still applies', () => {
  const rules = [
    { tool: 'Bash', pattern: 'echo *', action: 'allow' as const },
    { tool: 'Write', action: 'deny' as const },
  ];
  assert.equal(matchRule(rules, 'Bash', { command: `echo ${'x'.repeat(MAX_MATCHED_CHARS)}` }), null, 'padding cannot outrun a rule: the call is asked');
  assert.equal(matchRule(rules, 'Bash', { command: 'echo hi' })?.action, 'allow');
  assert.equal(matchRule(rules, 'Write', { content: 'x'.repeat(MAX_MATCHED_CHARS * 2) })?.action, 'deny');
});

test('braces: nested, escaped, literal when single; too many alternatives is refused by the schema', () => {
  const g = compileGlob('{a,{b,c}}-\\{x,y\\}-{z}', { path: false });
  assert.equal(g('b-{x,y}-{z}'), true);
  assert.equal(g('a-x-z'), false);
  assert.equal(globProblem('{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}'), null, '64 alternatives');
  assert.match(globProblem('{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}') ?? '', new RegExp(`more than ${MAX_ALTERNATIVES}`));
  // 2^40 alternatives are never written out: refused at once.
  assert.notEqual(globProblem('{a,b}'.repeat(40)), null);
  const bad = PermissionRule.safeParse({ tool: 'Bash', pattern: '{a,b}'.repeat(10), action: 'allow' });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /not a usable glob: more than 64/);
  assert.equal(PermissionRule.safeParse({ tool: '{x,y}'.repeat(7), action: 'allow' }).success, false, 'the tool glob too');
  // All rules together are bounded: matching costs time linear in their length.
  const rule = { tool: 'Bash', pattern: 'x'.repeat(999), action: 'ask' as const };
  const many = Array.from({ length: Math.ceil(MAX_PERMISSION_GLOB_CHARS / 1003) + 1 }, () => rule);
  assert.equal(TaskPermissionsReq.safeParse({ mode: 'rules', rules: many }).success, false);
  assert.equal(TaskPermissionsReq.safeParse({ mode: 'rules', rules: many.slice(0, Math.floor(MAX_PERMISSION_GLOB_CHARS / 1003)) }).success, true);
});

test('sets and escapes; unclosed sets and lone escapes are characters; non-ASCII is one character', () => {
  const g = (p: string, path = false) => compileGlob(p, { path });
  assert.equal(g('[a-c]x')('bx'), true);
  assert.equal(g('[!a-c]x')('bx'), false);
  assert.equal(g('[^a-c]x')('dx'), true);
  assert.equal(g('[]]')(']'), true);
  assert.equal(g('[a')('[a'), true);
  assert.equal(g('a\\')('a\\'), true);
  assert.equal(g('\\*')('*'), true);
  assert.equal(g('\\*')('x'), false);
  assert.equal(g('?')('é'), true);
  assert.equal(g('?')('😀'), true, 'one code point, not two UTF-16 units');
  assert.equal(g('a?c', true)('a/c'), false, 'in a path ? never matches /');
  assert.equal(g('a[/]c', true)('a/c'), false);
});
