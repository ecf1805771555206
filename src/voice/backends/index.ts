// The backend a gateway uses, chosen by `[voice-gateway.config] backend` (keys from the environment or [core.env]).
import type { Config } from '../../config/index.js';
import type { Logger } from '../../log/index.js';
import type { VoiceBackend } from '../backend.js';
import { GeminiLiveBackend } from './gemini-live.js';
import { LocalStackBackend, localStackOptions, localStackProblem } from './local-stack.js';
import { OpenAIRealtimeBackend } from './openai-realtime.js';

export interface VoiceBackendFactoryOptions {
  logger?: Logger;
}

/**
 * The configured backend, ready to open sessions. Throws a one-line Error when it cannot run here
 * (its key is missing, a URL is unusable): callers report voice as off with that reason.
 */
export function createVoiceBackend(config: Config, opts: VoiceBackendFactoryOptions = {}): VoiceBackend {
  const vc = config.values['voice-gateway'].config;
  switch (vc.backend) {
    case 'gemini-live':
      return new GeminiLiveBackend({
        apiKey: config.env('GEMINI_API_KEY') ?? '',
        model: vc.model,
        ...(vc.gemini_url ? { url: vc.gemini_url } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
    case 'openai-realtime':
      return new OpenAIRealtimeBackend({
        apiKey: config.env('OPENAI_API_KEY') ?? '',
        model: vc.openai_model,
        ...(vc.openai_url ? { url: vc.openai_url } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
    case 'local-stack': {
      const env = (name: string) => config.env(name);
      const problem = localStackProblem(vc.local_stack, env);
      if (problem) throw new Error(`the local-stack voice backend cannot run here: ${problem}`);
      return new LocalStackBackend({ ...localStackOptions(vc.local_stack, env), ...(opts.logger ? { logger: opts.logger } : {}) });
    }
  }
}
