// Public surface of src/client: the typed API client and event streams over fetch, shared by the web UI and the `caic` command.
export { ApiError, createClient, routeUrl, type ApiClient, type CallArgs, type CallResult, type ClientOptions } from './api.js';
export { backoffMs, openStream, SseParser, type SseMessage, type Stream, type StreamOptions, type StreamState } from './sse.js';
export { formatAnswers, type AskQuestionView } from './asks.js';
