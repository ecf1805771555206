// Public surface of src/http/webhooks: the forge webhook routes and their delivery log.
export { githubWebhookRoute, githubHook, GITHUB_BODY_LIMIT, GITHUB_EVENTS } from './github.js';
export { gitlabWebhookRoute, gitlabHook, GITLAB_BODY_LIMIT, GITLAB_EVENTS } from './gitlab.js';
export { DeliveryLog, DELIVERIES_FILE_NAME, MAX_DELIVERIES } from './deliveries.js';
export type { WebhookDeps } from './route.js';
