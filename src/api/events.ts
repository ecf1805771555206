// The common event stream: what every harness's output becomes, as sent over SSE and MCP.
import { z } from 'zod';

export const DiffStatEntry = z
  .object({ path: z.string(), added: z.number().int(), deleted: z.number().int(), binary: z.boolean() })
  .meta({ id: 'DiffStatEntry' });
export type DiffStatEntry = z.infer<typeof DiffStatEntry>;

export const Usage = z
  .object({
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cacheCreationInputTokens: z.number().int(),
    cacheReadInputTokens: z.number().int(),
  })
  .meta({ id: 'Usage' });
export type Usage = z.infer<typeof Usage>;

export const AskQuestion = z.object({
  question: z.string(),
  header: z.string().optional(),
  options: z.array(z.object({ label: z.string(), description: z.string().optional() })),
  multiSelect: z.boolean(),
});

export const TodoItem = z.object({ content: z.string(), status: z.string(), activeForm: z.string().optional() });

/** One comment of a review sent to the agent (the review card's content). */
export const ReviewedLines = z
  .object({
    file: z.string(),
    side: z.enum(['old', 'new']),
    startLine: z.number().int(),
    endLine: z.number().int(),
    quote: z.string(),
    body: z.string(),
  })
  .meta({ id: 'ReviewedLines' });
export type ReviewedLines = z.infer<typeof ReviewedLines>;

const base = { id: z.number().int().describe('Per-task sequence number, from 1; the SSE id.'), ts: z.string().describe('ISO-8601 time.') };

export const EventMessage = z
  .discriminatedUnion('kind', [
    z.object({ ...base, kind: z.literal('init'), sessionId: z.string(), model: z.string(), agentVersion: z.string(), tools: z.array(z.string()), cwd: z.string() }),
    z.object({ ...base, kind: z.literal('text'), text: z.string() }),
    z.object({ ...base, kind: z.literal('textDelta'), text: z.string() }),
    z.object({ ...base, kind: z.literal('thinking'), text: z.string() }),
    z.object({
      ...base,
      kind: z.literal('toolUse'),
      toolUseId: z.string(),
      name: z.string(),
      input: z.unknown(),
      inputTruncated: z.boolean().describe('True when `input` was cut; GET /tasks/{id}/tool/{toolUseId} has it whole.'),
    }),
    z.object({ ...base, kind: z.literal('toolResult'), toolUseId: z.string(), content: z.string(), isError: z.boolean(), durationMs: z.number() }),
    z.object({ ...base, kind: z.literal('ask'), toolUseId: z.string(), questions: z.array(AskQuestion) }),
    z.object({ ...base, kind: z.literal('todo'), todos: z.array(TodoItem) }),
    z.object({ ...base, kind: z.literal('usage'), usage: Usage, contextWindow: z.number().int().optional() }),
    z.object({
      ...base,
      kind: z.literal('result'),
      subtype: z.string(),
      isError: z.boolean(),
      result: z.string(),
      durationMs: z.number(),
      numTurns: z.number().int(),
      costUSD: z.number().describe('Cost of this session so far, as the agent reports it.'),
      usage: Usage,
    }),
    z.object({ ...base, kind: z.literal('system'), subtype: z.string(), detail: z.unknown().optional() }),
    z.object({ ...base, kind: z.literal('userInput'), text: z.string(), images: z.number().int() }),
    z.object({ ...base, kind: z.literal('diffStat'), files: z.array(DiffStatEntry) }),
    z.object({ ...base, kind: z.literal('error'), message: z.string(), line: z.string().optional() }),
    z.object({ ...base, kind: z.literal('log'), message: z.string(), phase: z.string().optional(), durationMs: z.number().optional() }),
    z.object({ ...base, kind: z.literal('subagentStart'), taskId: z.string(), description: z.string() }),
    z.object({ ...base, kind: z.literal('subagentEnd'), taskId: z.string(), status: z.string() }),
    z.object({ ...base, kind: z.literal('rateLimit'), info: z.unknown() }),
    z.object({ ...base, kind: z.literal('stats'), cpuPercent: z.number(), memoryBytes: z.number() }),
    z
      .object({ ...base, kind: z.literal('review'), comments: z.array(ReviewedLines) })
      .describe('Review comments on the diff, sent to the agent as one input (that input follows or precedes it as a userInput).'),
  ])
  .meta({ id: 'EventMessage' });
export type EventMessage = z.infer<typeof EventMessage>;
export type EventKind = EventMessage['kind'];
/** An event before the task numbers and stamps it. */
export type EventBody = EventMessage extends infer E ? (E extends EventMessage ? Omit<E, 'id' | 'ts'> : never) : never;
