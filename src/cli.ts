#!/usr/bin/env node
// Entry point of the `caic` command: a client command (login, tasks, run, logs, …) loads only the
// client (it starts in a fraction of the daemon's load time); anything else is the daemon's side.
import { isClientCommand } from './cli/commands.js';

if (isClientCommand(process.argv[2])) await import('./cli/main.js');
else await import('./daemon-cli.js');
