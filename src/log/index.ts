// Public surface of src/log: the logger factory and the secret masker.
export { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger, type LogLevel, type LoggerOptions } from './logger.js';
export { SecretMasker, maskValue } from './masker.js';
