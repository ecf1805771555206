// `caic <client command>`: runs it and turns errors into one line on stderr (exit 1; 2 for wrong arguments).
import { UserError } from '../config/index.js';
import { CLIENT_USAGE } from './commands.js';
import { runClient, UsageError } from './index.js';
import { redactTokens } from './redact.js';

try {
  process.exitCode = await runClient(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`caic: ${err.message}\n${CLIENT_USAGE}`);
    process.exitCode = 2;
  } else if (err instanceof UserError) {
    process.stderr.write(`caic: ${redactTokens(err.message)}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`caic: unexpected error: ${redactTokens(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exitCode = 1;
  }
}
