// File-system errors on paths made from user input become refusals (4xx) that name what the user gave, never a 500 or a host path.
import type { ErrorCode } from '../api/index.js';
import { TaskError } from './errors.js';

/** The one mapping of errno codes to envelope codes; an errno not listed here is our fault and stays a 500. */
const REFUSALS: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  ENAMETOOLONG: ['BAD_REQUEST', 'name too long'],
  ENOTDIR: ['BAD_REQUEST', 'a part of the path is not a directory'],
  EISDIR: ['BAD_REQUEST', 'is a directory'],
  ELOOP: ['BAD_REQUEST', 'too many levels of symbolic links'],
  EINVAL: ['BAD_REQUEST', 'invalid path'],
  ENOENT: ['NOT_FOUND', 'does not exist'],
  EEXIST: ['CONFLICT', 'already exists'],
  ENOTEMPTY: ['CONFLICT', 'already exists and is not empty'],
  EACCES: ['FORBIDDEN', 'permission denied'],
  EPERM: ['FORBIDDEN', 'operation not permitted'],
  EROFS: ['FORBIDDEN', 'read-only file system'],
  ENOSPC: ['SERVICE_UNAVAILABLE', 'no space left on the server'],
  EDQUOT: ['SERVICE_UNAVAILABLE', 'disk quota exceeded on the server'],
};

/**
 * The refusal for a file-system error on a path built from user input, labelled with what the
 * user wrote (Node's own message carries the absolute host path). Other errors come back as they
 * were.
 */
export function userPathError(err: unknown, label: string): unknown {
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  const refusal = typeof errno === 'string' ? REFUSALS[errno] : undefined;
  return refusal ? new TaskError(refusal[0], `${label}: ${refusal[1]}`, { errno }) : err;
}

/** Runs a file-system operation on a user-derived path; its errors leave as refusals (see userPathError). */
export async function onUserPath<T>(label: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw userPathError(err, label);
  }
}
