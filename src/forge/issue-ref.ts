// Parsing what a user gives as an issue: "owner/repo#N", "#N" (the task's repository) or the issue's
// web URL (GitHub, GHE, GitLab with nested groups). Nothing in it is ever fetched as a URL: it only
// names a repository and a number, which must match the task's repository on its forge.

export interface IssueSpec {
  /** Empty for "#N": the task's repository. */
  owner: string;
  repo: string;
  number: number;
  /** The host of a URL form; empty otherwise. */
  host: string;
}

const SEGMENT = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}';
const PATH = `${SEGMENT}(?:/${SEGMENT}){0,9}`;
const SHORT = new RegExp(`^(?:(${PATH})/(${SEGMENT}))?#([1-9][0-9]{0,9})$`);
const GITHUB_PATH = new RegExp(`^/(${SEGMENT})/(${SEGMENT})/issues/([1-9][0-9]{0,9})/?$`);
const GITLAB_PATH = new RegExp(`^/(${PATH})/(${SEGMENT})/-/(?:issues|work_items)/([1-9][0-9]{0,9})/?$`);

/** The issue a string names, or an error message saying what is wrong with it. */
export function parseIssueSpec(input: string): IssueSpec | string {
  const s = input.trim();
  const short = SHORT.exec(s);
  if (short) return checked({ owner: short[1] ?? '', repo: short[2] ?? '', number: Number(short[3]), host: '' });
  if (!/^https:\/\//i.test(s)) return 'issue must be "owner/repo#N", "#N" or the issue\'s https URL';
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return 'issue is not a valid URL';
  }
  if (url.username || url.password || url.search || url.hash) return 'the issue URL must not carry credentials, a query or a fragment';
  const m = GITLAB_PATH.exec(url.pathname) ?? GITHUB_PATH.exec(url.pathname);
  if (!m) return 'the URL is not an issue page (…/owner/repo/issues/N or …/group/repo/-/issues/N)';
  return checked({ owner: m[1]!, repo: m[2]!, number: Number(m[3]), host: url.host.toLowerCase() });
}

function checked(spec: IssueSpec): IssueSpec | string {
  if (!Number.isSafeInteger(spec.number) || spec.number > 2 ** 31 - 1) return 'the issue number is out of range';
  if ([spec.owner, spec.repo].some((p) => p.split('/').some((seg) => seg === '.' || seg === '..' || seg.endsWith('.git')))) return 'not a valid repository name';
  return spec;
}
