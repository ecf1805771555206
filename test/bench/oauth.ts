// `npm run bench:oauth`: token-endpoint refreshes per second on their own (bench:mcp runs them too).
import { machine, summary } from './lib.js';
import { benchRefreshes } from './oauth-refresh.js';

console.log(`machine: ${machine()}`);
summary('oauth', await benchRefreshes());
