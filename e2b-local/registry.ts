// The sandboxes of one server: their records by id, the spare pool of pre-started boxes, each
// sandbox's idle TTL timer, and kill (which also closes its open streams and watchers).
import type { ServerResponse } from "node:http";
import type { FSWatcher } from "node:fs";
import { randomBytes } from "node:crypto";
import { Box } from "./sandbox.ts";
import type { Isolation, Limits } from "./sandbox.ts";
import { sandboxMounts } from "./files.ts";
import type { Mount } from "./files.ts";

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
  /** X-Metadata-* of files written through /files, by sandbox path */
  fileMeta: Map<string, Record<string, string>>;
};

export type RegistryOptions = {
  dataDir: string;
  isolation: Isolation;
  limits: Limits;
  /** spare pre-started boxes to keep */
  poolSize: number;
  log: (line: string) => void;
};

export type NewSandbox = {
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  timeoutS: number;
  internet: boolean;
  /** template id and alias (templates.ts); default "base" */
  template?: { id: string; alias: string };
};

function newSandboxId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const b = randomBytes(20);
  let s = "";
  for (let i = 0; i < 20; i++) s += alphabet[b[i]! % 36];
  return s;
}

export class Registry {
  private readonly opts: RegistryOptions;
  private readonly sandboxes = new Map<string, SandboxRec>();
  private readonly pool: Box[] = [];
  private closing = false;
  /** boxes of the pool still starting */
  private filling = 0;

  constructor(opts: RegistryOptions) {
    this.opts = opts;
  }

  get(id: string): SandboxRec | undefined {
    return this.sandboxes.get(id);
  }

  /** every live sandbox, in creation order */
  all(): SandboxRec[] {
    return [...this.sandboxes.values()];
  }

  private newBox(internet: boolean): Box {
    return new Box(this.opts.dataDir, this.opts.isolation, this.opts.limits, internet);
  }

  /** Start spare boxes until the pool (ready + starting) is full. */
  fillPool(): void {
    const pool = this.pool;
    while (!this.closing && pool.length + this.filling < this.opts.poolSize) {
      this.filling++;
      const b = this.newBox(false);
      b.ready.then(
        () => {
          this.filling--;
          if (this.closing) void b.destroy();
          else pool.push(b);
          b.onDeath = () => {
            const i = pool.indexOf(b);
            if (i >= 0) pool.splice(i, 1);
          };
        },
        () => {
          this.filling--;
          void b.destroy();
        },
      );
    }
  }

  /** A ready box: a spare from the pool when one fits (no internet), else a fresh one. */
  private async takeBox(internet: boolean): Promise<Box> {
    if (!internet) {
      while (this.pool.length) {
        const b = this.pool.shift()!;
        if (!b.dead) {
          this.fillPool();
          return b;
        }
      }
    }
    const b = this.newBox(internet);
    try {
      await b.ready;
    } catch (e) {
      void b.destroy();
      throw e;
    }
    this.fillPool();
    return b;
  }

  async create(s: NewSandbox): Promise<SandboxRec> {
    const box = await this.takeBox(s.internet);
    const now = new Date();
    const rec: SandboxRec = {
      id: newSandboxId(),
      box,
      templateID: s.template?.id ?? "base",
      alias: s.template?.alias ?? "base",
      metadata: s.metadata,
      envVars: s.envVars,
      startedAt: now,
      endAt: new Date(now.getTime() + s.timeoutS * 1000),
      timer: null,
      token: randomBytes(16).toString("hex"),
      mounts: sandboxMounts(box.dir),
      streams: new Set(),
      watchers: new Map(),
      fileMeta: new Map(),
    };
    box.onDeath = () => {
      if (this.sandboxes.get(rec.id) === rec) void this.kill(rec);
    };
    this.sandboxes.set(rec.id, rec);
    this.armTimer(rec);
    this.opts.log(`sandbox ${rec.id} created (timeout ${s.timeoutS}s${s.internet ? ", internet" : ""})`);
    return rec;
  }

  /** Set the sandbox's end of life to `endAt` (ms since the epoch) and rearm its TTL timer. */
  setEnd(rec: SandboxRec, endAt: number): void {
    rec.endAt = new Date(endAt);
    this.armTimer(rec);
  }

  private armTimer(rec: SandboxRec): void {
    if (rec.timer) clearTimeout(rec.timer);
    const ms = Math.max(0, rec.endAt.getTime() - Date.now());
    rec.timer = setTimeout(
      () => {
        this.opts.log(`sandbox ${rec.id} expired`);
        void this.kill(rec);
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    rec.timer.unref?.();
  }

  async kill(rec: SandboxRec): Promise<void> {
    if (!this.sandboxes.has(rec.id)) return;
    this.sandboxes.delete(rec.id);
    if (rec.timer) clearTimeout(rec.timer);
    for (const s of rec.streams) s.destroy();
    rec.streams.clear();
    for (const w of rec.watchers.values()) w.w.close();
    rec.watchers.clear();
    await rec.box.destroy();
    this.opts.log(`sandbox ${rec.id} killed`);
  }

  /** Kill every sandbox and spare box; no new spares are started afterwards. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.all().map((r) => this.kill(r)));
    await Promise.all(this.pool.splice(0).map((b) => b.destroy()));
    // boxes still starting are destroyed when ready (see fillPool)
    for (let i = 0; i < 100 && this.filling > 0; i++) await new Promise((r) => setTimeout(r, 20));
  }
}
