// Public surface of src/audit: the hash-chained audit log, its sink seam, and the chain check.
export { AuditLog, AUDIT_FILE_NAME, GENESIS, sha256Hex, type AuditSink } from './log.js';
export { redactRecord } from './redact.js';
export { verifyAuditFile, type AuditVerdict } from './verify.js';
