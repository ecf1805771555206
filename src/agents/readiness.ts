// Whether each agent can run here: its CLI is in the configured image (the labels `caic image build`
// writes, else one probe per image id) and its credentials are configured. Cached per image id,
// refreshed when Docker reports an image event, so a request costs no Docker call.
import type Dockerode from 'dockerode';
import type { HarnessInfo, HarnessName } from '../api/index.js';
import { AGENT_CLIS, AGENT_RECIPES, DEFAULT_IMAGE, imageInfo, labelledAgents, normalizeImageRef, probeAgents, watchImages, type AgentCli, type ImageEventInfo } from '../containers/index.js';
import type { Logger } from '../log/index.js';
import type { Harness } from './types.js';

export interface ReadinessDeps {
  harnesses: ReadonlyMap<HarnessName, Harness>;
  /** `[core] image`. */
  image: string;
  /** The Docker client, or null while the engine is not connected. */
  docker: () => Dockerode | null;
  /** `[harness.<name>.env]`. */
  env: (name: HarnessName) => Record<string, string>;
  logger?: Logger;
  /** Without a live event stream, the image is looked at again after this long. */
  unwatchedTtlMs?: number;
}

/** What the image holds, as far as caic can tell. */
export interface ImageAgents {
  /** Null: the engine is not reachable. */
  imageId: string | null;
  exists: boolean;
  agents: Partial<Record<AgentCli, string>>;
}

const isAgentCli = (name: string): name is AgentCli => (AGENT_CLIS as readonly string[]).includes(name);

/** The readiness of one harness from what the image holds and what is configured (pure). */
export function harnessInfo(h: Harness, image: string, held: ImageAgents, env: Record<string, string>): HarnessInfo {
  const base = {
    name: h.name,
    models: [...h.models],
    defaultModel: h.defaultModel,
    supportsImages: h.supportsImages,
    supportsCompact: h.supportsCompact,
    supportsInterrupt: h.supportsInterrupt,
    contextWindow: h.contextWindow(h.defaultModel),
  };
  // The fake agent is deployed with the relay: nothing to install, no account.
  if (!isAgentCli(h.name)) return { ...base, installed: true, version: '', credentials: true, ready: true, reason: '', fix: '' };
  const recipe = AGENT_RECIPES[h.name];
  const version = held.agents[h.name];
  const installed = version !== undefined;
  const credentials = !h.credentials || h.credentials.anyOf.some((k) => Boolean(env[k]));
  const reasons: string[] = [];
  const fixes: string[] = [];
  if (!installed) {
    if (held.imageId === null) {
      reasons.push('the Docker engine is not reachable, so caic cannot tell whether the image has it');
      fixes.push('start Docker');
    } else {
      reasons.push(held.exists ? `${recipe.title} is not installed in the image ${image}` : `the image ${image} does not exist`);
      // Rebuilding makes the image anew: name every agent it should keep, too.
      const flags = AGENT_CLIS.filter((a) => a === h.name || held.agents[a] !== undefined).map((a) => AGENT_RECIPES[a].flag);
      fixes.push(`caic image build ${[...(image === DEFAULT_IMAGE ? [] : ['--tag', image]), ...flags].join(' ')}`);
    }
  }
  if (!credentials && h.credentials) {
    reasons.push(`no credentials for ${recipe.title} (none of ${h.credentials.anyOf.join(', ')} is set in [harness.${h.name}.env])`);
    fixes.push(h.credentials.fix);
  }
  return { ...base, installed, version: version ?? '', credentials, ready: reasons.length === 0, reason: reasons.join('; '), fix: fixes.join('; then ') };
}

/**
 * Whether an image event may change what `image` holds: it names that reference (a build, tag or
 * load), or it is about the image id held now (its untag or removal). One that names nothing
 * readable counts, to be safe.
 */
export function imageEventConcerns(event: ImageEventInfo, image: string, heldId?: string | null): boolean {
  if (heldId && event.id === heldId) return true;
  if (!event.name) return !event.id;
  return normalizeImageRef(event.name) === normalizeImageRef(image);
}

export class HarnessReadiness {
  private current: { at: number; held: ImageAgents } | null = null;
  private inflight: Promise<ImageAgents> | null = null;
  /** Probe results per image id: an image id never changes its contents. */
  private readonly probed = new Map<string, Partial<Record<AgentCli, string>>>();
  private watching = false;
  private watcher: AbortController | null = null;

  constructor(private readonly deps: ReadinessDeps) {}

  /** Every harness, sorted by name. */
  async list(): Promise<HarnessInfo[]> {
    const held = await this.held();
    return [...this.deps.harnesses.values()].map((h) => harnessInfo(h, this.deps.image, held, this.deps.env(h.name))).sort((a, b) => a.name.localeCompare(b.name));
  }

  async check(name: HarnessName): Promise<HarnessInfo | null> {
    const h = this.deps.harnesses.get(name);
    if (!h) return null;
    // The fake agent needs nothing from the image: no Docker call for it.
    const held = isAgentCli(name) ? await this.held() : { imageId: null, exists: false, agents: {} };
    return harnessInfo(h, this.deps.image, held, this.deps.env(name));
  }

  /** Forgets what it knew (an image changed); a look already under way does not keep its answer. */
  invalidate(): void {
    this.current = null;
    this.generation++;
  }

  private generation = 0;

  close(): void {
    this.watcher?.abort();
  }

  private async held(): Promise<ImageAgents> {
    const docker = this.deps.docker();
    if (!docker) return { imageId: null, exists: false, agents: {} };
    // Listening first: a change between the look and the subscription would go unnoticed. (Bounded:
    // an engine that does not answer gets the TTL instead.)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.watch(docker), new Promise<void>((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    const ttl = this.deps.unwatchedTtlMs ?? 10_000;
    if (this.current && (this.watching || Date.now() - this.current.at < ttl)) return this.current.held;
    this.inflight ??= this.look(docker).finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async look(docker: Dockerode): Promise<ImageAgents> {
    const at = Date.now();
    const generation = this.generation;
    this.deps.logger?.debug({ image: this.deps.image }, 'looking at the agent image');
    const info = await imageInfo(docker, this.deps.image).catch(() => undefined);
    if (info === undefined) return { imageId: null, exists: false, agents: {} };
    let held: ImageAgents;
    if (!info) held = { imageId: '', exists: false, agents: {} };
    else {
      const labelled = labelledAgents(info.Config?.Labels);
      let probed = this.probed.get(info.Id);
      const unlabelled = AGENT_CLIS.filter((a) => labelled[a] === undefined);
      if (!probed && unlabelled.length) {
        // An image caic did not label (a Dockerfile of one's own): look inside, once per image id.
        probed = await probeAgents(docker, info.Id, unlabelled).catch((err: unknown) => {
          this.deps.logger?.warn({ image: this.deps.image, err: (err as Error).message }, 'could not probe the image for agent CLIs');
          return {};
        });
        this.probed.set(info.Id, probed);
        this.deps.logger?.info({ image: this.deps.image, found: Object.keys(probed) }, 'probed the image for agent CLIs');
      }
      held = { imageId: info.Id, exists: true, agents: { ...probed, ...labelled } };
    }
    if (generation === this.generation) this.current = { at, held };
    return held;
  }

  /**
   * Image events (a build, a tag, a removal) make the next look go to Docker again; so does a
   * reconnection (events may have been missed). Resolves once the stream is up, or has failed once.
   */
  private watch(docker: Dockerode): Promise<void> {
    if (this.watcher) return this.firstConnect;
    this.watcher = new AbortController();
    let settle!: () => void;
    this.firstConnect = new Promise<void>((r) => (settle = r));
    let connectedBefore = false;
    void watchImages(docker, this.watcher.signal, (what, event) => {
      // Only the configured image matters: the repository images tasks make (caic-repo:<commit>)
      // and anyone's other builds change nothing here, and would otherwise empty the cache.
      if (what === 'event' && event && !this.concerns(event)) return;
      if (what === 'lost') {
        this.watching = false;
        settle();
        return;
      }
      if (what === 'connected') {
        this.watching = true;
        settle();
        if (!connectedBefore) {
          connectedBefore = true;
          return;
        }
      }
      this.invalidate();
    });
    return this.firstConnect;
  }

  private firstConnect: Promise<void> = Promise.resolve();

  private concerns(event: ImageEventInfo): boolean {
    return imageEventConcerns(event, this.deps.image, this.current?.held.imageId);
  }
}
