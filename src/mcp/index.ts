// Public surface of src/mcp: the MCP endpoint, the voice tools routes, and the seams to the authorization server and the audit log.
export { registerMcp, type McpOptions, type McpDeps } from './http.js';
export {
  bearerChallenge,
  insufficientScopeChallenge,
  resourceUrls,
  type AuditSink,
  type McpTokenVerifier,
  type VerifiedToken,
  type Principal,
  type ResourceUrls,
} from './auth.js';
export { ERROR_META, TRUNCATED_META, WWW_AUTHENTICATE_META } from './server.js';
export { TOOLS } from './tools.js';
export { registerVoiceTools, type VoiceToolsDeps } from './voice-tools.js';
