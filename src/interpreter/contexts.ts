// A user's interpreter contexts, kept in their Durable Object: which contexts of each conversation's
// sandbox are theirs (explicit ones, and the default one per language that stateful runs use), so a
// client only ever reaches contexts of its own sandboxes, by ids this object handed out.
import { ApiError } from "../errors.ts";
import { LOOK, type SandboxPool } from "../durable/sandboxes.ts";
import { interpreterTemplate, type Sandbox } from "../sandbox/e2b.ts";
import { SANDBOX_HOME } from "../sandbox/files.ts";
import {
  type CodeContext,
  createServerContext,
  isNotFound,
  listServerContexts,
  removeServerContext,
  restartServerContext,
  STATEFUL_LANGUAGES,
  type StatefulLanguage,
} from "./wire.ts";

/** A context as the API shows it; `default` marks the one stateful runs without `contextId` use. */
export interface ContextInfo {
  id: string;
  language: StatefulLanguage;
  cwd: string;
  createdAt: string;
  default: boolean;
}

type ContextRow = {
  id: string;
  conversation_id: string;
  sandbox_id: string;
  language: StatefulLanguage;
  cwd: string;
  is_default: number;
  created_at: number;
};

/** The context a run goes to, and whether it is the conversation's default for its language. */
export interface RunContext {
  context: CodeContext;
  isDefault: boolean;
}

export class CodeContexts {
  private readonly sql: SqlStorage;
  private readonly env: Env;
  private readonly sandboxes: SandboxPool;
  /** Defaults being found or created, per sandbox and language: concurrent first runs share one. */
  private readonly settling = new Map<string, Promise<CodeContext>>();

  constructor(sql: SqlStorage, env: Env, sandboxes: SandboxPool) {
    this.sql = sql;
    this.env = env;
    this.sandboxes = sandboxes;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS code_contexts (
        id TEXT NOT NULL, conversation_id TEXT NOT NULL, sandbox_id TEXT NOT NULL, language TEXT NOT NULL,
        cwd TEXT NOT NULL, is_default INTEGER NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, id));
    `);
  }

  /**
   * The context a stateful run in `sandbox` uses: `contextId` (404 unless it is one of this
   * conversation's; 400 when its language is not the run's), else the conversation's default for
   * the language, adopted from the server's own (E2B starts one per language) or created.
   */
  async forRun(
    conversationId: string,
    sandbox: Sandbox,
    language: StatefulLanguage,
    contextId?: string,
  ): Promise<RunContext> {
    this.dropStale(conversationId, sandbox.sandboxId);
    if (contextId !== undefined) {
      const row = this.row(conversationId, contextId);
      if (!row) throw noContext(conversationId, contextId);
      if (row.language !== language) {
        throw new ApiError(
          "invalid_request",
          `language: context ${contextId} runs ${row.language}, not ${language}; send language "${row.language}" or another contextId`,
        );
      }
      return { context: toContext(row), isDefault: row.is_default === 1 };
    }
    const known = this.defaultRow(conversationId, sandbox.sandboxId, language);
    if (known) return { context: toContext(known), isDefault: true };
    const key = `${sandbox.sandboxId}:${language}`;
    let settling = this.settling.get(key);
    if (!settling) {
      settling = this.settleDefault(conversationId, sandbox, language).finally(() => this.settling.delete(key));
      this.settling.set(key, settling);
    }
    return { context: await settling, isDefault: true };
  }

  /** Forgets a context the server no longer has (a run found it gone). */
  forget(conversationId: string, id: string): void {
    this.sql.exec(`DELETE FROM code_contexts WHERE conversation_id = ? AND id = ?`, conversationId, id);
  }

  /** Creates an explicit context, starting the conversation's interpreter sandbox if it has none. */
  async create(conversationId: string, language: StatefulLanguage, cwd: string | undefined): Promise<ContextInfo> {
    const template = interpreterTemplate(this.env);
    this.checkTemplate(conversationId, template);
    return this.sandboxes.use(conversationId, { create: true, template }, async (sandbox) => {
      // Another request may have started a plain sandbox for the conversation meanwhile.
      this.checkTemplate(conversationId, template);
      this.dropStale(conversationId, sandbox.sandboxId);
      const dir = cwd ?? SANDBOX_HOME;
      if (cwd !== undefined && !(await sandbox.files.exists(cwd))) {
        throw new ApiError("invalid_request", `cwd: no directory '${cwd}' in the sandbox`);
      }
      const context = await createServerContext(sandbox, language, dir);
      return toInfo(this.insert(conversationId, sandbox.sandboxId, context, false));
    });
  }

  /**
   * The conversation's contexts that its sandbox still has, defaults included (adopted from the
   * server's own when no run has used them yet). None when it has no interpreter sandbox.
   */
  async list(conversationId: string): Promise<ContextInfo[]> {
    if (this.sandboxes.templateOf(conversationId) !== interpreterTemplate(this.env)) return [];
    return this.sandboxes.use(conversationId, LOOK, async (sandbox) => {
      this.dropStale(conversationId, sandbox.sandboxId);
      const live = await listServerContexts(sandbox);
      const ids = new Set(live.map((c) => c.id));
      for (const row of this.rows(conversationId)) if (!ids.has(row.id)) this.forget(conversationId, row.id);
      for (const language of STATEFUL_LANGUAGES) {
        if (this.defaultRow(conversationId, sandbox.sandboxId, language)) continue;
        const adopted = this.adoptable(sandbox.sandboxId, live, language);
        if (adopted) this.insert(conversationId, sandbox.sandboxId, adopted, true);
      }
      return this.rows(conversationId).map(toInfo);
    });
  }

  /** Restarts a context: its variables are gone, the context (and its id) stays. */
  async restart(conversationId: string, id: string): Promise<ContextInfo> {
    const row = this.owned(conversationId, id);
    const found = await this.sandboxes
      .use(conversationId, LOOK, (sandbox) => restartServerContext(sandbox, id))
      .catch(missingSandbox(conversationId, id));
    if (!found) {
      this.forget(conversationId, id);
      throw noContext(conversationId, id);
    }
    return toInfo(row);
  }

  /** Removes a context and its kernel; a default one is replaced by a fresh one on the next run. */
  async remove(conversationId: string, id: string): Promise<void> {
    this.owned(conversationId, id);
    const found = await this.sandboxes
      .use(conversationId, LOOK, (sandbox) => removeServerContext(sandbox, id))
      .catch(missingSandbox(conversationId, id));
    this.forget(conversationId, id);
    if (!found) throw noContext(conversationId, id);
  }

  /** Whether a run's failure means the server no longer has its context. */
  static isGone(error: unknown): boolean {
    return isNotFound(error);
  }

  private async settleDefault(
    conversationId: string,
    sandbox: Sandbox,
    language: StatefulLanguage,
  ): Promise<CodeContext> {
    const adopted = this.adoptable(sandbox.sandboxId, await listServerContexts(sandbox), language);
    const context = adopted ?? (await createServerContext(sandbox, language, SANDBOX_HOME));
    this.insert(conversationId, sandbox.sandboxId, context, true);
    return context;
  }

  /**
   * A context the server started on its own for `language` (E2B's starts a python and a javascript
   * one in /home/user) that no record claims: warm already, so the default need not start a kernel.
   */
  private adoptable(sandboxId: string, live: CodeContext[], language: StatefulLanguage): CodeContext | undefined {
    const claimed = new Set(
      this.sql
        .exec<{ id: string }>(`SELECT id FROM code_contexts WHERE sandbox_id = ?`, sandboxId)
        .toArray()
        .map((r) => r.id),
    );
    return live.find((c) => c.language === language && c.cwd === SANDBOX_HOME && !claimed.has(c.id));
  }

  private checkTemplate(conversationId: string, template: string): void {
    checkInterpreterTemplate(this.sandboxes.templateOf(conversationId), template, conversationId);
  }

  /** Contexts of an earlier sandbox of the conversation died with it. */
  private dropStale(conversationId: string, sandboxId: string): void {
    this.sql.exec(`DELETE FROM code_contexts WHERE conversation_id = ? AND sandbox_id != ?`, conversationId, sandboxId);
  }

  private owned(conversationId: string, id: string): ContextRow {
    const row = this.row(conversationId, id);
    if (!row) throw noContext(conversationId, id);
    return row;
  }

  private insert(conversationId: string, sandboxId: string, context: CodeContext, isDefault: boolean): ContextRow {
    const row: ContextRow = {
      id: context.id,
      conversation_id: conversationId,
      sandbox_id: sandboxId,
      language: context.language,
      cwd: context.cwd,
      is_default: isDefault ? 1 : 0,
      created_at: Date.now(),
    };
    this.sql.exec(
      `INSERT OR REPLACE INTO code_contexts VALUES (?, ?, ?, ?, ?, ?, ?)`,
      row.id,
      row.conversation_id,
      row.sandbox_id,
      row.language,
      row.cwd,
      row.is_default,
      row.created_at,
    );
    return row;
  }

  private row(conversationId: string, id: string): ContextRow | undefined {
    return this.sql
      .exec<ContextRow>(`SELECT * FROM code_contexts WHERE conversation_id = ? AND id = ?`, conversationId, id)
      .toArray()[0];
  }

  private rows(conversationId: string): ContextRow[] {
    return this.sql
      .exec<ContextRow>(
        `SELECT * FROM code_contexts WHERE conversation_id = ? ORDER BY is_default DESC, created_at, id`,
        conversationId,
      )
      .toArray();
  }

  private defaultRow(conversationId: string, sandboxId: string, language: StatefulLanguage): ContextRow | undefined {
    return this.sql
      .exec<ContextRow>(
        `SELECT * FROM code_contexts WHERE conversation_id = ? AND sandbox_id = ? AND language = ? AND is_default = 1`,
        conversationId,
        sandboxId,
        language,
      )
      .toArray()[0];
  }
}

function toContext(row: ContextRow): CodeContext {
  return { id: row.id, language: row.language, cwd: row.cwd };
}

function toInfo(row: ContextRow): ContextInfo {
  return {
    id: row.id,
    language: row.language,
    cwd: row.cwd,
    createdAt: new Date(row.created_at).toISOString(),
    default: row.is_default === 1,
  };
}

/** Stateful runs and contexts need an interpreter sandbox; a conversation holding another kind is a 409. */
export function checkInterpreterTemplate(current: string | null, template: string, conversationId: string): void {
  if (current === null || current === template) return;
  throw new ApiError(
    "conflict",
    `Conversation '${conversationId}' already has a '${current}' sandbox, which cannot run stateful code (that needs '${template}'). Close it (DELETE /api/v1/sandboxes/${conversationId}) or use another conversation.`,
  );
}

export function noContext(conversationId: string, id: string): ApiError {
  return new ApiError("not_found", `Conversation '${conversationId}' has no context ${id}.`);
}

/** A context whose sandbox is gone is gone too. */
function missingSandbox(conversationId: string, id: string) {
  return (err: unknown): never => {
    if (err instanceof ApiError && err.code === "not_found") throw noContext(conversationId, id);
    throw err;
  };
}
