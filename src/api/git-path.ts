// Git's C-style path quoting, as it appears in the `diff` text of DiffResp and in numstat output:
// the server unquotes numstat paths with it, the web UI the paths in patch headers.

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/**
 * Undoes git's C-style quoting ("dir/\303\251 \"x\".txt"), used for paths with control characters,
 * quotes, backslashes or (with core.quotePath, the default) non-ASCII bytes. Unquoted input is
 * returned as is.
 */
export function unquoteGitPath(s: string): string {
  if (s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return s;
  const bytes: number[] = [];
  const body = s.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\' || i + 1 >= body.length) {
      // Git only leaves ASCII unescaped inside quotes, but be safe with anything else.
      for (const b of new TextEncoder().encode(ch)) bytes.push(b);
      continue;
    }
    const next = body[i + 1]!;
    const oct = /^[0-3][0-7]{2}/.exec(body.slice(i + 1, i + 4));
    if (oct) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else {
      bytes.push(C_ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

