// The client commands' names and help text: what the `caic` entry point needs before loading anything else.

export const CLIENT_COMMANDS = ['login', 'logout', 'tasks', 'run', 'logs', 'send', 'diff', 'sync', 'stop', 'revive', 'purge'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];
export const isClientCommand = (name: string | undefined): name is ClientCommand => (CLIENT_COMMANDS as readonly string[]).includes(name ?? '');

export const CLIENT_USAGE = `client commands (against --server URL, $CAIC_SERVER, else the local daemon):
  caic login [URL]          pair this machine with a server (a code to approve in the browser)
  caic logout [URL]         unpair it on the server and delete the local tokens
  caic tasks [--json]       the tasks: id, state, repo, title, cost, age
  caic run PROMPT --repo R [--branch B] [--agent A] [--model M] [--follow] [--json]
  caic logs ID [-f] [--json]   the task's events; -f follows until the agent is done
  caic send ID TEXT         send the agent a message
  caic diff ID              the task's changes (through $PAGER on a terminal)
  caic sync ID [--pr] [--force] [--json]   push the task branch (--pr: and open its pull request)
  caic stop|revive|purge ID [--json]
  client options: --server URL, --insecure (allow http:// to another host), --config-dir DIR
`;
