// The sandboxes of one server: their records by id, the spare pool of pre-started boxes, each
// sandbox's idle TTL timer, and kill (which also closes its open streams and watchers).
import type { ServerResponse } from "node:http";
import type { FSWatcher } from "node:fs";
import { randomBytes } from "node:crypto";
import { Box } from "./sandbox.ts";
import type { BoxHost } from "./sandbox.ts";
import { sandboxMounts } from "./files.ts";
import type { Mount } from "./files.ts";
import { SAMPLE_MS, newMetrics, sample } from "./metrics.ts";
import type { Metrics } from "./metrics.ts";

export type SandboxRec = {
  id: string;
  box: Box;
  templateID: string;
  alias: string;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  startedAt: Date;
  endAt: Date;
  timer: NodeJS.Timeout | null;
  token: string;
  mounts: Mount[];
  /** open server-streaming responses, destroyed on kill */
  streams: Set<ServerResponse>;
  watchers: Map<string, { w: FSWatcher; events: object[] }>;
  /** paused: no process runs, its disk is kept; envd answers 502 until it is resumed */
  paused: boolean;
  /** what its TTL does: kill it, or pause it (and let envd traffic resume it when autoResume) */
  lifecycle: Lifecycle;
  /** a resume under way (concurrent connects / requests wait for the same one) */
  resuming: Promise<SandboxRec> | null;
  /** what its processes use, sampled while it runs (metrics.ts) */
  metrics: Metrics;
};

export type Lifecycle = { onTimeout: "kill" | "pause"; autoResume: boolean };

export type RegistryOptions = {
  host: BoxHost;
  /** spare pre-started boxes to keep */
  poolSize: number;
  log: (line: string) => void;
  /** Run again what a template starts in a new sandbox (its processes are gone after a pause). */
  restart?: (sandbox: SandboxRec) => Promise<void>;
};

export type NewSandbox = {
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  timeoutS: number;
  internet: boolean;
  /** template id and alias (templates.ts); default "base" */
  template?: { id: string; alias: string };
  lifecycle?: Lifecycle;
};

/** the TTL of a sandbox resumed by envd traffic (autoResume), as E2B's default */
const DEFAULT_RESUME_TIMEOUT_S = 300;

function newSandboxId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(20);
  let id = "";
  for (let i = 0; i < 20; i++) id += alphabet[bytes[i]! % 36];
  return id;
}

export class Registry {
  private readonly opts: RegistryOptions;
  private readonly sandboxes = new Map<string, SandboxRec>();
  private readonly pool: Box[] = [];
  private closing = false;
  /** boxes of the pool still starting */
  private filling = 0;
  /** every box still starting (pool or not): close() waits for them, so no disk is mounted after it */
  private readonly starting = new Set<Box>();

  constructor(opts: RegistryOptions) {
    this.opts = opts;
  }

  /** a running sandbox (not a paused one) */
  get(id: string): SandboxRec | undefined {
    const sandbox = this.sandboxes.get(id);
    return sandbox && !sandbox.paused ? sandbox : undefined;
  }

  /** a sandbox, running or paused */
  find(id: string): SandboxRec | undefined {
    return this.sandboxes.get(id);
  }

  /** A running sandbox, resuming it first when it is paused with autoResume (envd traffic does that). */
  async getOrResume(id: string): Promise<SandboxRec | undefined> {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return undefined;
    if (!sandbox.paused) return sandbox;
    if (!sandbox.lifecycle.autoResume) return undefined;
    return this.resume(sandbox, DEFAULT_RESUME_TIMEOUT_S).catch(() => undefined);
  }

  /** every sandbox, running and paused, in creation order */
  all(): SandboxRec[] {
    return [...this.sandboxes.values()];
  }

  private newBox(internet: boolean, resumeDir?: string): Box {
    const box = new Box(this.opts.host, internet, resumeDir);
    this.starting.add(box);
    const started = () => this.starting.delete(box);
    box.ready.then(started, started);
    return box;
  }

  /** Start spare boxes until the pool (ready + starting) is full. */
  fillPool(): void {
    const pool = this.pool;
    while (!this.closing && pool.length + this.filling < this.opts.poolSize) {
      this.filling++;
      const box = this.newBox(false);
      box.ready.then(
        () => {
          this.filling--;
          if (this.closing) void box.destroy();
          else pool.push(box);
          box.onDeath = () => {
            const i = pool.indexOf(box);
            if (i >= 0) pool.splice(i, 1);
          };
        },
        () => {
          this.filling--;
          void box.destroy();
        },
      );
    }
  }

  /** A ready box: a spare from the pool when one fits (no internet), else a fresh one. */
  private async takeBox(internet: boolean): Promise<Box> {
    if (!internet) {
      while (this.pool.length) {
        const box = this.pool.shift()!;
        if (!box.dead) {
          this.fillPool();
          return box;
        }
      }
    }
    const box = this.newBox(internet);
    try {
      await box.ready;
    } catch (e) {
      void box.destroy();
      throw e;
    }
    this.fillPool();
    return box;
  }

  async create(request: NewSandbox): Promise<SandboxRec> {
    const box = await this.takeBox(request.internet);
    if (this.closing) {
      await box.destroy();
      throw new Error("e2b-local is shutting down");
    }
    const now = new Date();
    const sandbox: SandboxRec = {
      id: newSandboxId(),
      box,
      templateID: request.template?.id ?? "base",
      alias: request.template?.alias ?? "base",
      metadata: request.metadata,
      envVars: request.envVars,
      startedAt: now,
      endAt: new Date(now.getTime() + request.timeoutS * 1000),
      timer: null,
      token: randomBytes(16).toString("hex"),
      mounts: sandboxMounts(box.dir),
      streams: new Set(),
      watchers: new Map(),
      paused: false,
      lifecycle: request.lifecycle ?? { onTimeout: "kill", autoResume: false },
      resuming: null,
      metrics: newMetrics(),
    };
    box.onDeath = () => {
      if (this.sandboxes.get(sandbox.id) === sandbox && sandbox.box === box) void this.kill(sandbox);
    };
    this.sandboxes.set(sandbox.id, sandbox);
    this.armTimer(sandbox);
    this.sample(sandbox);
    this.startSampling();
    this.opts.log(
      `sandbox ${sandbox.id} created (timeout ${request.timeoutS}s${request.internet ? ", internet" : ""})`,
    );
    return sandbox;
  }

  private sampler: NodeJS.Timeout | null = null;

  private sample(sandbox: SandboxRec): void {
    const { host } = this.opts;
    if (!sandbox.paused && !sandbox.box.dead)
      sample(sandbox.metrics, host.cgroups, host.limits, sandbox.box.id, sandbox.box.dir);
  }

  /** one timer samples every running sandbox (stopped while there is none) */
  private startSampling(): void {
    if (this.sampler) return;
    this.sampler = setInterval(() => {
      if (this.sandboxes.size === 0 && this.sampler) {
        clearInterval(this.sampler);
        this.sampler = null;
      }
      for (const sandbox of this.sandboxes.values()) this.sample(sandbox);
    }, SAMPLE_MS);
    this.sampler.unref?.();
  }

  /** Set the sandbox's end of life to `endAt` (ms since the epoch) and rearm its TTL timer. */
  setEnd(sandbox: SandboxRec, endAt: number): void {
    sandbox.endAt = new Date(endAt);
    this.armTimer(sandbox);
  }

  private armTimer(sandbox: SandboxRec): void {
    if (sandbox.timer) clearTimeout(sandbox.timer);
    const ms = Math.max(0, sandbox.endAt.getTime() - Date.now());
    sandbox.timer = setTimeout(
      () => {
        this.opts.log(`sandbox ${sandbox.id} expired`);
        if (sandbox.lifecycle.onTimeout === "pause") void this.pause(sandbox).catch(() => this.kill(sandbox));
        else void this.kill(sandbox);
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    sandbox.timer.unref?.();
  }

  /** its open streams and watchers end (kill, pause) */
  private detach(sandbox: SandboxRec): void {
    if (sandbox.timer) clearTimeout(sandbox.timer);
    sandbox.timer = null;
    for (const stream of sandbox.streams) stream.destroy();
    sandbox.streams.clear();
    for (const watcher of sandbox.watchers.values()) watcher.w.close();
    sandbox.watchers.clear();
  }

  async kill(sandbox: SandboxRec): Promise<void> {
    if (!this.sandboxes.has(sandbox.id)) return;
    this.sandboxes.delete(sandbox.id);
    this.detach(sandbox);
    await sandbox.resuming?.catch(() => {});
    await sandbox.box.destroy();
    this.opts.log(`sandbox ${sandbox.id} killed`);
  }

  /**
   * Pause, filesystem only: every process ends, the disk (home, tmp, root, var/tmp) is kept. False if
   * it was paused already. Memory is not kept (that would take a checkpoint of the whole process tree,
   * e.g. CRIU, which this host does not have).
   */
  async pause(sandbox: SandboxRec): Promise<boolean> {
    if (sandbox.resuming) await sandbox.resuming.catch(() => {});
    if (sandbox.paused || !this.sandboxes.has(sandbox.id)) return false;
    sandbox.paused = true;
    this.detach(sandbox);
    await sandbox.box.stop();
    this.opts.log(`sandbox ${sandbox.id} paused`);
    return true;
  }

  /** Start a paused sandbox's processes again on its kept disk; its TTL is `timeoutS` from now. */
  resume(sandbox: SandboxRec, timeoutS: number): Promise<SandboxRec> {
    if (!sandbox.paused) return Promise.resolve(sandbox);
    sandbox.resuming ??= (async () => {
      const old = sandbox.box;
      // a pause may still be ending its processes and unmounting the disk the new box mounts
      await old.stop();
      const box = this.newBox(old.internet, old.dir);
      try {
        await box.ready;
      } catch (e) {
        void this.kill(sandbox);
        throw e;
      }
      sandbox.box = box;
      box.onDeath = () => {
        if (this.sandboxes.get(sandbox.id) === sandbox && sandbox.box === box) void this.kill(sandbox);
      };
      try {
        await this.opts.restart?.(sandbox);
      } catch (e) {
        void this.kill(sandbox);
        throw e;
      }
      sandbox.paused = false;
      this.setEnd(sandbox, Date.now() + timeoutS * 1000);
      this.sample(sandbox);
      this.startSampling();
      this.opts.log(`sandbox ${sandbox.id} resumed`);
      return sandbox;
    })().finally(() => {
      sandbox.resuming = null;
    });
    return sandbox.resuming;
  }

  /** Kill every sandbox and spare box; no new spares are started afterwards. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.sampler) clearInterval(this.sampler);
    await Promise.all(this.all().map((sandbox) => this.kill(sandbox)));
    // spares, and boxes still starting (destroy waits for a start under way, then undoes it)
    await Promise.all([...this.pool.splice(0), ...this.starting].map((box) => box.destroy()));
  }
}
