// The web terminals of a user's Durable Object: one shell (a PTY through the e2b SDK) per conversation,
// bridged to at most one WebSocket at a time. The shell outlives a dropped connection, with its recent
// output kept for the next one, and a restart of the object (its pid is stored); it ends when it exits,
// its sandbox stops, or nobody types for a while.
import type { CommandHandle } from "e2b";
import { limits } from "../config.ts";
import { CREATE, type SandboxPool } from "../durable/sandboxes.ts";
import type { Sandbox } from "../sandbox/e2b.ts";
import {
  type AttachedMessage,
  CLOSE,
  clientMessageSchema,
  DEFAULT_SIZE,
  type ErrorMessage,
  MAX_INPUT_FRAME_BYTES,
  SCROLLBACK_BYTES,
} from "./protocol.ts";

/** Marking the sandbox used on every keystroke would write SQLite per key: once in this long is enough. */
const TOUCH_EVERY_MS = 5_000;

const encoder = new TextEncoder();

/** The last `limit` bytes of a stream, as the chunks they came in (the oldest one cut to fit). */
class Scrollback {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.byteLength;
    while (this.size > this.limit) {
      const first = this.chunks[0] as Uint8Array;
      const excess = this.size - this.limit;
      if (first.byteLength <= excess) {
        this.chunks.shift();
        this.size -= first.byteLength;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }
}

interface Session {
  conversationId: string;
  sandbox: Sandbox;
  handle: CommandHandle;
  /** Found running in the sandbox after this object restarted (its earlier output is lost with the memory). */
  reattached: boolean;
  scrollback: Scrollback;
  socket: WebSocket | null;
  /** Keystrokes and resizes, in order: each is its own request to the sandbox. */
  queue: Promise<void>;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  lastTouch: number;
  /** Lets the idle reaper have the sandbox again. */
  release: () => void;
  /** Set once the session is ending, with the close the socket gets. */
  ending: { code: number; reason: string } | null;
}

type TerminalRow = { conversation_id: string; sandbox_id: string; pid: number };

export class TerminalSessions {
  private readonly sql: SqlStorage;
  private readonly sandboxes: SandboxPool;
  private readonly env: Env;
  private readonly sessions = new Map<string, Session>();
  /** Shells being started: a second connection meanwhile waits for the same one. */
  private readonly starting = new Map<string, Promise<Session>>();

  constructor(sql: SqlStorage, sandboxes: SandboxPool, env: Env) {
    this.sql = sql;
    this.sandboxes = sandboxes;
    this.env = env;
    this.ensureTable();
  }

  /** Which shell each conversation has, so an object that restarted finds its shells again. (Again after an erase.) */
  ensureTable(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS terminals (
      conversation_id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL, pid INTEGER NOT NULL)`);
  }

  private recorded(conversationId: string): TerminalRow | undefined {
    return this.sql.exec<TerminalRow>(`SELECT * FROM terminals WHERE conversation_id = ?`, conversationId).toArray()[0];
  }

  /** Accepts `server` (one end of a WebSocketPair) as the conversation's terminal, starting a shell if none runs. */
  async attach(conversationId: string, server: WebSocket): Promise<void> {
    const running = this.sessions.get(conversationId);
    const session = running ?? (await this.start(conversationId));
    server.accept();
    // Keystrokes as bytes (the standard default would hand them over as Blobs).
    server.binaryType = "arraybuffer";
    const previous = session.socket;
    session.socket = server;
    if (previous) closeSocket(previous, CLOSE.replaced, "Another connection took this terminal over.");
    const resumed = running !== undefined || session.reattached;
    sendJson(server, { type: "attached", pid: session.handle.pid, resumed });
    const recent = session.scrollback.bytes();
    if (recent.byteLength) server.send(recent);
    server.addEventListener("message", (event) => this.received(session, server, event.data));
    const detach = () => {
      if (session.socket === server) session.socket = null;
    };
    server.addEventListener("close", detach);
    server.addEventListener("error", detach);
  }

  /** Ends every terminal (the user is being erased). */
  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.sessions.values()].map((s) => this.end(s, CLOSE.sandboxGone, "The sandbox was closed.")),
    );
  }

  private start(conversationId: string): Promise<Session> {
    const pending = this.starting.get(conversationId);
    if (pending) return pending;
    const started = this.spawn(conversationId).finally(() => this.starting.delete(conversationId));
    this.starting.set(conversationId, started);
    return started;
  }

  private async spawn(conversationId: string): Promise<Session> {
    // Held for the shell's whole life: a terminal open in a browser is the sandbox in use.
    const release = this.sandboxes.hold(conversationId);
    try {
      let session: Session | undefined;
      const scrollback = new Scrollback(SCROLLBACK_BYTES);
      const onData = (bytes: Uint8Array) => {
        scrollback.push(bytes);
        if (session) this.output(session, bytes);
      };
      const { sandbox, handle, reattached } = await this.sandboxes.use(conversationId, CREATE, async (sandbox) => {
        const known = this.recorded(conversationId);
        if (known?.sandbox_id === sandbox.sandboxId) {
          // A shell this object started before it restarted (a deploy, an eviction): still running, reach it.
          // 0: no time limit (the SDK's default would drop it after a minute); idleness ends it instead.
          const handle = await sandbox.pty.connect(known.pid, { onData, timeoutMs: 0 }).catch(() => null);
          if (handle) return { sandbox, handle, reattached: true };
        }
        const handle = await sandbox.pty.create({ ...DEFAULT_SIZE, timeoutMs: 0, onData });
        this.sql.exec(
          `INSERT OR REPLACE INTO terminals (conversation_id, sandbox_id, pid) VALUES (?, ?, ?)`,
          conversationId,
          sandbox.sandboxId,
          handle.pid,
        );
        return { sandbox, handle, reattached: false };
      });
      session = {
        conversationId,
        sandbox,
        handle,
        reattached,
        scrollback,
        socket: null,
        queue: Promise.resolve(),
        idleTimer: undefined,
        lastTouch: Date.now(),
        release,
        ending: null,
      };
      this.sessions.set(conversationId, session);
      this.typed(session);
      const s = session;
      handle.wait().then(
        (result) => this.ended(s, result.exitCode),
        (err: unknown) => this.ended(s, (err as { exitCode?: number }).exitCode),
      );
      return session;
    } catch (err) {
      release();
      throw err;
    }
  }

  private output(session: Session, bytes: Uint8Array): void {
    session.socket?.send(bytes);
    this.keepSandbox(session);
  }

  private received(session: Session, socket: WebSocket, data: string | ArrayBuffer): void {
    if (session.socket !== socket || session.ending) return;
    if (typeof data !== "string") {
      this.input(session, socket, new Uint8Array(data));
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      message = undefined;
    }
    const parsed = clientMessageSchema.safeParse(message);
    if (!parsed.success) {
      sendJson(socket, {
        type: "error",
        message:
          'Text frames are control messages: {"type":"resize","cols":N,"rows":N} or {"type":"input","data":"…"}; send keystrokes as binary frames.',
      });
      return;
    }
    const control = parsed.data;
    if (control.type === "input") {
      this.input(session, socket, encoder.encode(control.data));
      return;
    }
    const size = { cols: control.cols, rows: control.rows };
    this.enqueue(session, () => session.sandbox.pty.resize(session.handle.pid, size));
  }

  private input(session: Session, socket: WebSocket, bytes: Uint8Array): void {
    if (bytes.byteLength > MAX_INPUT_FRAME_BYTES) {
      closeSocket(socket, CLOSE.tooLarge, `Input frames are at most ${MAX_INPUT_FRAME_BYTES} bytes.`);
      return;
    }
    this.typed(session);
    this.enqueue(session, () => session.sandbox.pty.sendInput(session.handle.pid, bytes));
  }

  /** Runs sandbox calls one after another, so keystrokes arrive in the order they were typed. */
  private enqueue(session: Session, call: () => Promise<void>): void {
    session.queue = session.queue.then(call).catch(async (err: unknown) => {
      if (session.ending) return;
      if (await session.sandbox.isRunning().catch(() => false)) {
        console.error(`terminal ${session.conversationId}: the sandbox refused input`, err);
        return;
      }
      await this.end(session, CLOSE.sandboxGone, "The sandbox stopped; open the terminal again for a new one.");
    });
  }

  /** A keystroke: the idle clock starts over, and the sandbox counts as used. */
  private typed(session: Session): void {
    this.keepSandbox(session);
    const idleMs = limits(this.env).terminalIdleMs;
    if (idleMs === 0) return;
    if (session.idleTimer !== undefined) clearTimeout(session.idleTimer);
    session.idleTimer = setTimeout(() => {
      void this.end(session, CLOSE.idle, `Closed after ${Math.round(idleMs / 1000)} s without input.`);
    }, idleMs);
  }

  private keepSandbox(session: Session): void {
    const now = Date.now();
    if (now - session.lastTouch < TOUCH_EVERY_MS) return;
    session.lastTouch = now;
    this.sandboxes.touch(session.conversationId, session.sandbox);
  }

  /** The shell's stream ended: it exited, or its sandbox went away with it. */
  private async ended(session: Session, exitCode: number | undefined): Promise<void> {
    if (session.ending) return;
    if (exitCode !== undefined) {
      await this.end(session, CLOSE.exited, `The shell exited (status ${exitCode}).`);
      return;
    }
    const running = await session.sandbox.isRunning().catch(() => false);
    await this.end(
      session,
      running ? CLOSE.internal : CLOSE.sandboxGone,
      running ? "Lost the connection to the shell." : "The sandbox stopped; open the terminal again for a new one.",
    );
  }

  /** Ends the session: its socket is closed with `code`, its shell killed, its sandbox left to the idle reaper. */
  private async end(session: Session, code: number, reason: string): Promise<void> {
    if (session.ending) return;
    session.ending = { code, reason };
    if (this.sessions.get(session.conversationId) === session) this.sessions.delete(session.conversationId);
    if (session.idleTimer !== undefined) clearTimeout(session.idleTimer);
    if (session.socket) closeSocket(session.socket, code, reason);
    session.socket = null;
    session.release();
    session.handle.disconnect().catch(() => {});
    this.sql.exec(
      `DELETE FROM terminals WHERE conversation_id = ? AND pid = ?`,
      session.conversationId,
      session.handle.pid,
    );
    // A gone sandbox has nothing left to kill or to mark used (its conversation may have a new one by now).
    if (code === CLOSE.sandboxGone) return;
    if (code !== CLOSE.exited) await session.sandbox.pty.kill(session.handle.pid).catch(() => false);
    this.sandboxes.touch(session.conversationId, session.sandbox);
  }
}

function sendJson(socket: WebSocket, message: AttachedMessage | ErrorMessage): void {
  socket.send(JSON.stringify(message));
}

function closeSocket(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed by the other side.
  }
}
