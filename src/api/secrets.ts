// Wire types of the secrets vault: names and metadata out, values only in (never echoed).
import { z } from 'zod';

/** At most this many secrets per user, and per task. */
export const MAX_SECRETS = 100;
export const MAX_TASK_SECRETS = 32;
/** Shorter values would be masked everywhere they happen to occur in an agent's output. */
export const MIN_SECRET_BYTES = 8;
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Names caic sets itself or that change how every program in the container behaves: a secret of
 * that name would replace them in ~/.env.
 */
const RESERVED = /^(PATH|HOME|USER|LOGNAME|SHELL|TERM|PWD|IFS|ENV|BASH_ENV|GITHUB_TOKEN|GH_TOKEN|NODE_OPTIONS|LD_[A-Z0-9_]*)$/;

export const SecretName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'must be an environment variable name: capital letters, digits and _, at most 64, not starting with a digit')
  .refine((n) => !RESERVED.test(n), 'is a name caic or the shell sets itself; choose another')
  .describe('The variable name the value gets in the container ~/.env.')
  .meta({ id: 'SecretName' });

export const SecretMeta = z
  .object({
    name: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime().describe('When the value was last set (rotated).'),
  })
  .meta({ id: 'SecretMeta' });
export type SecretMeta = z.infer<typeof SecretMeta>;

export const SecretsResp = z.object({ secrets: z.array(SecretMeta) }).meta({ id: 'SecretsResp' });
export type SecretsResp = z.infer<typeof SecretsResp>;

export const SecretNameParams = z.object({ name: SecretName });

export const SetSecretReq = z
  .object({
    value: z
      .string()
      .refine((v) => Buffer.byteLength(v, 'utf8') >= MIN_SECRET_BYTES, `must be at least ${MIN_SECRET_BYTES} bytes (a shorter value could not be told apart from ordinary output when it is masked)`)
      .refine((v) => Buffer.byteLength(v, 'utf8') <= MAX_SECRET_BYTES, `must be at most ${MAX_SECRET_BYTES / 1024} KiB`)
      .refine((v) => !v.includes('\0'), 'must not contain a NUL byte')
      .describe('The value; stored encrypted, never returned by any route.'),
  })
  .meta({ id: 'SetSecretReq' });
export type SetSecretReq = z.infer<typeof SetSecretReq>;

export const DeleteSecretResp = z.object({ status: z.literal('deleted') }).meta({ id: 'DeleteSecretResp' });
