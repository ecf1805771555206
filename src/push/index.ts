// Public surface of src/push: VAPID keys, the subscription store, endpoint policy, the push service and task news.
export { loadOrCreateVapidKeys, VAPID_FILE_NAME, type VapidKeys } from './keys.js';
export { SubscriptionStore, subscriptionId, PUSH_SUBSCRIPTIONS_FILE_NAME, MAX_SUBSCRIPTIONS_PER_USER, type StoredSubscription } from './store.js';
export { endpointProblem, isPublicAddress, publicOnlyLookup, type EndpointPolicy } from './endpoint.js';
export { PushService, PushValidationError, taskUrl, MAX_QUEUE, MAX_RETRIES, type PushOptions } from './service.js';
export { TaskNews } from './watch.js';
