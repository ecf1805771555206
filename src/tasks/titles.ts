// Task titles: the cleaned first line of the prompt, a short title from a small model (Anthropic,
// OpenAI or Gemini wire format), and the ranks that decide which source wins.

/** Where a title came from; a higher rank wins, equal ranks take the later one. */
export type TitleSource = 'prompt' | 'model' | 'agent' | 'user';
const RANK: Record<TitleSource, number> = { prompt: 0, model: 1, agent: 2, user: 3 };

export function titleSource(v: unknown): TitleSource {
  return typeof v === 'string' && v in RANK ? (v as TitleSource) : 'prompt';
}

/** Whether a title from `next` replaces one from `current` (a user's rename beats anything generated). */
export function titleWins(next: TitleSource, current: TitleSource): boolean {
  return RANK[next] >= RANK[current];
}

export const MAX_TITLE_CHARS = 80;
const UNTITLED = 'Untitled task';

/**
 * One line of display text from anything (a prompt, a model's answer, an agent's session name):
 * no control characters, single spaces, at most MAX_TITLE_CHARS (cut at a word where it can).
 */
export function cleanTitle(text: string): string {
  const flat = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    // Direction overrides and isolates would make a title read as something else in the list
    // (an agent's or model's text is not trusted); a zero-width space or BOM hides nothing useful.
    .replace(/[\u202a-\u202e\u2066-\u2069\u200b\ufeff]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (flat.length <= MAX_TITLE_CHARS) return flat;
  const cut = flat.slice(0, MAX_TITLE_CHARS - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > MAX_TITLE_CHARS / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

/** The provisional title: the prompt's first non-empty line without Markdown decoration. */
export function titleFromPrompt(prompt: string): string {
  const line = prompt.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  const text = line
    .replace(/^(?:#{1,6}\s+|[-*+>]\s+|\d+[.)]\s+)+/, '') // heading, list and quote markers
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/(\*\*|__)(.+?)\1/g, '$2') // bold
    .replace(/`+/g, '') // code spans
    .replace(/[\s:;,]+$/, ''); // "Do this:" introduces what follows
  return cleanTitle(text) || UNTITLED;
}

/** A model's answer as a title: its first line, without quotes, a "Title:" label or a final period. */
export function titleFromModel(answer: string): string {
  const line = answer.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  const text = line
    .replace(/^(?:\*\*)?title\s*(?::\s*\*\*|\*\*\s*:|:)\s*/i, '')
    .replace(/^["'`*_“‘«]+|["'`*_”’»]+$/g, '')
    .replace(/\.$/, '');
  return cleanTitle(text);
}

// ---- model titles ------------------------------------------------------------------------------

export type TitleProvider = 'anthropic' | 'openai' | 'gemini';

export interface TitleModelConfig {
  provider: TitleProvider;
  apiKey: string;
  /** Base URL of the provider's API (no version path); the official one unless configured. */
  url: string;
  model: string;
}

export const TITLE_DEFAULTS: Record<TitleProvider, { url: string; model: string; keyName: string; harness: 'claude' | 'codex' | 'gemini' }> = {
  anthropic: { url: 'https://api.anthropic.com', model: 'claude-haiku-4-5', keyName: 'ANTHROPIC_API_KEY', harness: 'claude' },
  openai: { url: 'https://api.openai.com', model: 'gpt-4.1-nano', keyName: 'OPENAI_API_KEY', harness: 'codex' },
  gemini: { url: 'https://generativelanguage.googleapis.com', model: 'gemini-2.5-flash-lite', keyName: 'GEMINI_API_KEY', harness: 'gemini' },
};

/**
 * Picks the provider from `[titles]` and the keys at hand: `provider = "auto"` takes the first of
 * Anthropic, OpenAI, Gemini whose key is set (`[harness.<agent>.env]`, else the daemon's
 * environment); a named provider needs its key; "off" or no key means no model titles.
 */
export function resolveTitleModel(
  titles: { provider: string; model: string; url: string },
  keyOf: (provider: TitleProvider) => string | undefined,
): TitleModelConfig | null {
  if (titles.provider === 'off') return null;
  const order: TitleProvider[] = titles.provider === 'auto' ? ['anthropic', 'openai', 'gemini'] : [titles.provider as TitleProvider];
  for (const provider of order) {
    const apiKey = keyOf(provider);
    if (!apiKey) continue;
    const d = TITLE_DEFAULTS[provider];
    return { provider, apiKey, url: (titles.url || d.url).replace(/\/+$/, ''), model: titles.model || d.model };
  }
  return null;
}

const INSTRUCTIONS =
  'You name tasks given to a coding agent. Answer with a title for the task below: 3 to 8 words, ' +
  'plain text on one line, no quotes, no Markdown, no final period. Use the language of the task.';
/** The prompt the model sees is cut to this (a title needs the gist, not the whole paste). */
const MAX_PROMPT_CHARS = 4_000;
const TIMEOUT_MS = 15_000;
const MAX_TOKENS = 40;

interface WireCall {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  text: (json: unknown) => unknown;
}

type Json = Record<string, unknown> | undefined;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function wireCall(c: TitleModelConfig, task: string): WireCall {
  switch (c.provider) {
    case 'anthropic':
      return {
        url: `${c.url}/v1/messages`,
        headers: { 'x-api-key': c.apiKey, 'anthropic-version': '2023-06-01' },
        body: { model: c.model, max_tokens: MAX_TOKENS, system: INSTRUCTIONS, messages: [{ role: 'user', content: task }] },
        text: (j) =>
          arr(obj(j)?.content)
            .map((b) => (obj(b)?.type === 'text' ? str(obj(b)?.text) : ''))
            .join(''),
      };
    case 'openai':
      return {
        url: `${c.url}/v1/chat/completions`,
        headers: { authorization: `Bearer ${c.apiKey}` },
        body: {
          model: c.model,
          max_completion_tokens: MAX_TOKENS,
          messages: [
            { role: 'system', content: INSTRUCTIONS },
            { role: 'user', content: task },
          ],
        },
        text: (j) => obj(obj(arr(obj(j)?.choices)[0])?.message)?.content,
      };
    case 'gemini':
      return {
        url: `${c.url}/v1beta/models/${encodeURIComponent(c.model)}:generateContent`,
        headers: { 'x-goog-api-key': c.apiKey },
        body: {
          systemInstruction: { parts: [{ text: INSTRUCTIONS }] },
          contents: [{ role: 'user', parts: [{ text: task }] }],
          generationConfig: { maxOutputTokens: MAX_TOKENS },
        },
        text: (j) =>
          arr(obj(obj(arr(obj(j)?.candidates)[0])?.content)?.parts)
            .map((p) => str(obj(p)?.text))
            .join(''),
      };
  }
}

/** Asks a small model for a title; null when it cannot (the caller keeps what it has). */
export class TitleModel {
  constructor(
    readonly config: TitleModelConfig,
    private readonly onFailure: (message: string) => void = () => {},
  ) {}

  async title(prompt: string, signal?: AbortSignal): Promise<string | null> {
    const call = wireCall(this.config, prompt.slice(0, MAX_PROMPT_CHARS));
    const where = `${this.config.provider} ${this.config.model}`;
    try {
      const res = await fetch(call.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...call.headers },
        body: JSON.stringify(call.body),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS),
      });
      // Only the status: an error body may quote the request, and the request carries the key.
      if (!res.ok) {
        await res.body?.cancel();
        this.onFailure(`${where}: HTTP ${res.status}`);
        return null;
      }
      const json: unknown = await res.json().catch(() => null);
      const text = call.text(json);
      const title = typeof text === 'string' ? titleFromModel(text) : '';
      if (!title) this.onFailure(`${where}: no title in the answer`);
      return title || null;
    } catch (err) {
      if (!signal?.aborted) this.onFailure(`${where}: ${(err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message}`);
      return null;
    }
  }
}
