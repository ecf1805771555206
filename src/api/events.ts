// The common event stream: what every harness's output becomes, as sent over SSE and MCP.
import { z } from 'zod';
import { ApprovalDecidedBy, ApprovalDecision } from './approvals.js';
import { EgressBlocked } from './egress.js';

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
    z.object({ ...base, kind: z.literal('init'), sessionId: z.string(), model: z.string(), agentVersion: z.string(), tools: z.array(z.string()), cwd: z.string() }).meta({ id: 'EventInit' }),
    z.object({ ...base, kind: z.literal('text'), text: z.string() }).meta({ id: 'EventText' }),
    z.object({ ...base, kind: z.literal('textDelta'), text: z.string() }).meta({ id: 'EventTextDelta' }),
    z.object({ ...base, kind: z.literal('thinking'), text: z.string() }).meta({ id: 'EventThinking' }),
    z.object({
      ...base,
      kind: z.literal('toolUse'),
      toolUseId: z.string(),
      name: z.string(),
      input: z.unknown(),
      inputTruncated: z.boolean().describe('True when `input` was cut; GET /tasks/{id}/tool/{toolUseId} has it whole.'),
    }).meta({ id: 'EventToolUse' }),
    z.object({ ...base, kind: z.literal('toolResult'), toolUseId: z.string(), content: z.string(), isError: z.boolean(), durationMs: z.number() }).meta({ id: 'EventToolResult' }),
    z.object({ ...base, kind: z.literal('ask'), toolUseId: z.string(), questions: z.array(AskQuestion) }).meta({ id: 'EventAsk' }),
    z.object({ ...base, kind: z.literal('todo'), todos: z.array(TodoItem) }).meta({ id: 'EventTodo' }),
    z.object({ ...base, kind: z.literal('usage'), usage: Usage, contextWindow: z.number().int().optional() }).meta({ id: 'EventUsage' }),
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
    }).meta({ id: 'EventResult' }),
    z.object({ ...base, kind: z.literal('system'), subtype: z.string(), detail: z.unknown().optional() }).meta({ id: 'EventSystem' }),
    z.object({ ...base, kind: z.literal('userInput'), text: z.string(), images: z.number().int() }).meta({ id: 'EventUserInput' }),
    z.object({ ...base, kind: z.literal('diffStat'), files: z.array(DiffStatEntry) }).meta({ id: 'EventDiffStat' }),
    z.object({ ...base, kind: z.literal('error'), message: z.string(), line: z.string().optional() }).meta({ id: 'EventError' }),
    z.object({ ...base, kind: z.literal('log'), message: z.string(), phase: z.string().optional(), durationMs: z.number().optional() }).meta({ id: 'EventLog' }),
    z.object({ ...base, kind: z.literal('subagentStart'), taskId: z.string(), description: z.string() }).meta({ id: 'EventSubagentStart' }),
    z.object({ ...base, kind: z.literal('subagentEnd'), taskId: z.string(), status: z.string() }).meta({ id: 'EventSubagentEnd' }),
    z.object({ ...base, kind: z.literal('rateLimit'), info: z.unknown() }).meta({ id: 'EventRateLimit' }),
    z
      .object({
        ...base,
        kind: z.literal('stats'),
        cpuPercent: z.number(),
        memoryBytes: z.number(),
        memoryLimitBytes: z.number().optional().describe('The container memory cap (0: none).'),
        diskBytes: z.number().optional().describe("The task's disk use: its home, /tmp and /var/tmp (du)."),
        diskLimitBytes: z.number().optional().describe('[limits] disk (0: none).'),
      })
      .meta({ id: 'EventStats' }),
    z
      .object({
        ...base,
        kind: z.literal('approval'),
        requestId: z.string(),
        toolUseId: z.string(),
        tool: z.string(),
        input: z.unknown(),
        reason: z.string(),
        expiresAt: z.iso.datetime(),
      })
      .describe('The agent asks to run a tool and waits (permission mode ask or rules); an approvalResolved event with the same requestId settles it.')
      .meta({ id: 'EventApproval' }),
    z
      .object({
        ...base,
        kind: z.literal('approvalResolved'),
        requestId: z.string(),
        decision: ApprovalDecision,
        by: ApprovalDecidedBy,
        user: z.string().describe('Who answered (by user), else empty.'),
        message: z.string().describe('What a denied agent was told.'),
      })
      .meta({ id: 'EventApprovalResolved' }),
    z
      .object({ ...base, kind: z.literal('egress'), blocked: z.array(EgressBlocked) })
      .describe("Connections the task's egress policy refused so far, per destination (the whole table, not a delta).")
      .meta({ id: 'EventEgress' }),
    z
      .object({ ...base, kind: z.literal('review'), comments: z.array(ReviewedLines) })
      .describe('Review comments on the diff, sent to the agent as one input (that input follows or precedes it as a userInput).')
      .meta({ id: 'EventReview' }),
  ])
  .meta({ id: 'EventMessage' });
export type EventMessage = z.infer<typeof EventMessage>;

/** Data of the `ready` event that ends a task stream's history (GET /api/v1/tasks/{id}/events). */
export const SseReady = z.object({}).strict().meta({ id: 'SseReady', description: 'History is complete: render now.' });
export type EventKind = EventMessage['kind'];
/** An event before the task numbers and stamps it. */
export type EventBody = EventMessage extends infer E ? (E extends EventMessage ? Omit<E, 'id' | 'ts'> : never) : never;
