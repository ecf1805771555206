// Wire types of resource hygiene: the doctor report (engine, images, disk, containers, what clean-up would remove).
import { z } from 'zod';

export const DoctorImage = z
  .object({
    id: z.string().describe('Image id (sha256:…).'),
    tags: z.array(z.string()),
    kind: z.enum(['agent', 'repo', 'base']),
    sizeBytes: z.number().int(),
    agents: z.record(z.string(), z.string()).describe('Agent CLI → version, from the image labels.'),
    containers: z.number().int().describe('Containers (any state) made from it.'),
    current: z.boolean().describe('The image new tasks start from ([core] image).'),
  })
  .meta({ id: 'DoctorImage' });

export const DoctorContainer = z
  .object({
    name: z.string(),
    taskId: z.string(),
    state: z.string(),
    createdAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().optional().describe('When it stopped (absent while it runs).'),
  })
  .meta({ id: 'DoctorContainer' });

export const HygieneAction = z
  .object({
    kind: z.enum(['idleStop', 'removeStopped', 'removeOrphan', 'pruneImage']),
    target: z.string().describe('Task id, container name or image tag/id.'),
    reason: z.string(),
    sizeBytes: z.number().int().optional(),
  })
  .meta({ id: 'HygieneAction' });

export const DoctorResp = z
  .object({
    engine: z.object({
      reachable: z.boolean(),
      error: z.string().optional(),
      version: z.string(),
      apiVersion: z.string(),
      os: z.string(),
      rootDir: z.string(),
      storageDriver: z.string(),
    }),
    disk: z
      .object({
        path: z.string(),
        freeBytes: z.number().int(),
        totalBytes: z.number().int(),
        minFreeBytes: z.number().int().describe('[limits] min_free_disk: starting a task is refused below it (0: never).'),
        low: z.boolean(),
      })
      .nullable()
      .describe("Docker's data disk (statfs of its root directory); null when the engine is on another machine."),
    images: z.array(DoctorImage),
    containers: z.object({
      running: z.number().int().describe("This daemon's task containers that run (all users')."),
      stopped: z.number().int(),
      otherDaemons: z.number().int().describe('Containers labelled caic by another daemon (or an older caic) on the same engine: never touched.'),
      items: z.array(DoctorContainer).describe("With login on, only the caller's tasks' containers; the counts cover everyone's."),
    }),
    hygiene: z.object({
      actions: z.array(HygieneAction).describe("What clean-up would do now (with login on, only what concerns the caller's tasks, besides orphans and images)."),
      hidden: z.number().int().describe("Actions on other users' tasks, counted only."),
    }),
    limits: z.object({
      memoryBytes: z.number().int(),
      diskBytes: z.number().int(),
      diskWarnPercent: z.number().int(),
      statsIntervalMs: z.number().int(),
      idleStopMs: z.number().int(),
      removeStoppedAfterMs: z.number().int(),
      orphanGraceMs: z.number().int(),
      pruneImages: z.boolean(),
      gcIntervalMs: z.number().int(),
      minFreeDiskBytes: z.number().int(),
    }),
  })
  .meta({ id: 'DoctorResp' });
export type DoctorResp = z.infer<typeof DoctorResp>;
export type DoctorImage = z.infer<typeof DoctorImage>;
export type DoctorContainer = z.infer<typeof DoctorContainer>;
export type HygieneAction = z.infer<typeof HygieneAction>;
