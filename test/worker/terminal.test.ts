// The web terminal through the Worker and the user's Durable Object, with the real e2b SDK on e2b-local:
// tickets (one use, expiry, bound to user and conversation), the WebSocket bridge to a real shell,
// re-attaching to the same shell, resize, idle close (TERMINAL_IDLE_SECONDS is small here) and a
// sandbox that stops under an open terminal.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { userSpace } from "../../src/durable/stub.ts";
import { call, createUser, type ErrorBody } from "./helpers.ts";

interface Ticket {
  ticket: string;
  expiresAt: string;
  url: string;
}

const ticketsPath = (conversationId: string) => `/api/v1/sandboxes/${conversationId}/terminal/tickets`;
const socketPath = (conversationId: string, ticket: string) =>
  `/api/v1/sandboxes/${conversationId}/terminal?ticket=${encodeURIComponent(ticket)}`;

async function ticketFor(key: string, conversationId: string): Promise<Ticket> {
  const res = await call(ticketsPath(conversationId), { key, method: "POST" });
  expect(res.status).toBe(201);
  return res.json();
}

function upgrade(path: string, headers: Record<string, string> = { Upgrade: "websocket" }): Promise<Response> {
  return SELF.fetch(`https://phoenix.test${path}`, { headers });
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

/** One side of a terminal connection: what the shell printed, the control messages, how it closed. */
class Term {
  output = "";
  readonly messages: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly decoder = new TextDecoder();
  readonly socket: WebSocket;

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.accept();
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.messages.push(JSON.parse(event.data));
      else this.output += this.decoder.decode(new Uint8Array(event.data as ArrayBuffer), { stream: true });
    });
    this.closed = new Promise((resolve) =>
      socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
    );
  }

  type(text: string): void {
    this.socket.send(new TextEncoder().encode(text));
  }

  /** Waits until the output shows `text` (bounded: 20 s); a closed socket fails at once. */
  async see(text: string): Promise<void> {
    let closed: { code: number; reason: string } | undefined;
    void this.closed.then((c) => {
      closed = c;
    });
    for (let i = 0; i < 400; i++) {
      if (this.output.includes(text)) return;
      if (closed) throw new Error(`closed (${closed.code} ${closed.reason}) before showing ${text}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`never showed ${text}:\n${this.output}`);
  }

  async attached(): Promise<{ pid: number; resumed: boolean }> {
    for (let i = 0; i < 400 && !this.messages.some((m) => m.type === "attached"); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.messages.find((m) => m.type === "attached");
  }
}

async function open(key: string, conversationId: string): Promise<Term> {
  const { ticket } = await ticketFor(key, conversationId);
  const res = await upgrade(socketPath(conversationId, ticket));
  if (res.status !== 101) throw new Error(`opening the terminal: ${res.status} ${await res.text()}`);
  return new Term(res.webSocket!);
}

describe("terminal tickets", () => {
  let user: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  beforeAll(async () => {
    [user, other] = await Promise.all([createUser("term"), createUser("term-other")]);
  });

  it("are issued to a key holder, name their user, and point at the socket", async () => {
    const issued = await ticketFor(user.apiKey, "t-issue");
    expect(issued.ticket.startsWith(`${user.id}.`)).toBe(true);
    expect(Date.parse(issued.expiresAt)).toBeGreaterThan(0);
    const url = new URL(issued.url);
    expect(url.protocol).toBe("wss:");
    expect(url.pathname).toBe("/api/v1/sandboxes/t-issue/terminal");
    expect(url.searchParams.get("ticket")).toBe(issued.ticket);
    expect((await call(ticketsPath("t-issue"), { method: "POST" })).status).toBe(401);
    expect((await call(ticketsPath("bad id!"), { key: user.apiKey, method: "POST" })).status).toBe(400);
  });

  it("refuses a socket without a ticket, with a malformed one, or without Upgrade (426, ticket kept)", async () => {
    const missing = await upgrade("/api/v1/sandboxes/t-426/terminal");
    expect(missing.status).toBe(401);
    expect((await errorOf(missing)).message).toContain("ticket");
    expect((await upgrade(socketPath("t-426", "usr_x.short"))).status).toBe(401);
    const { ticket } = await ticketFor(user.apiKey, "t-426");
    const plain = await upgrade(socketPath("t-426", ticket), {});
    expect(plain.status).toBe(426);
    expect(await errorOf(plain)).toMatchObject({ code: "upgrade_required" });
    // Not spent by the refusal: the same ticket opens the socket.
    const res = await upgrade(socketPath("t-426", ticket));
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000, "done");
  });

  it("are good for one use only", async () => {
    const { ticket } = await ticketFor(user.apiKey, "t-once");
    const first = await upgrade(socketPath("t-once", ticket));
    expect(first.status).toBe(101);
    first.webSocket!.accept();
    first.webSocket!.close(1000, "done");
    const again = await upgrade(socketPath("t-once", ticket));
    expect(again.status).toBe(401);
    expect((await errorOf(again)).message).toContain("already used");
  });

  it("expire", async () => {
    const { ticket } = await ticketFor(user.apiKey, "t-expired");
    // Moves the ticket's expiry into the past instead of waiting a minute.
    await runInDurableObject(userSpace(env, user.id), async (_instance, state) => {
      state.storage.sql.exec(`UPDATE terminal_tickets SET expires_at = 0`);
    });
    const res = await upgrade(socketPath("t-expired", ticket));
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toContain("Expired");
  });

  it("open only the conversation they were issued for, and are spent by trying another", async () => {
    const { ticket } = await ticketFor(user.apiKey, "t-mine");
    const res = await upgrade(socketPath("t-theirs", ticket));
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toMatchObject({ code: "forbidden" });
    expect((await upgrade(socketPath("t-mine", ticket))).status).toBe(401);
  });

  it("never reach another user's terminal", async () => {
    const mine = await open(user.apiKey, "shared-name");
    mine.type("export SECRET=mine-$((40+2)); echo set-$((1+1))\r");
    await mine.see("set-2");

    // Another user's ticket for the same conversation name reaches their own shell, not this one.
    const theirs = await open(other.apiKey, "shared-name");
    theirs.type('echo "seen:[$SECRET]"-$((2+3))\r');
    await theirs.see("-5");
    expect(theirs.output).toContain("seen:[]");
    expect(theirs.output).not.toContain("mine-42");
    expect((await theirs.attached()).pid).toBeGreaterThan(0);

    // A forged ticket: the other user's secret under this user's id is unknown to this user's object.
    const { ticket } = await ticketFor(other.apiKey, "shared-name");
    const forged = `${user.id}.${ticket.slice(ticket.indexOf(".") + 1)}`;
    const refused = await upgrade(socketPath("shared-name", forged));
    expect(refused.status).toBe(401);
    // …and the forgery did not spend the real one, which still opens its own user's terminal.
    const real = await upgrade(socketPath("shared-name", ticket));
    expect(real.status).toBe(101);
    const again = new Term(real.webSocket!);
    expect((await again.attached()).pid).toBe((await theirs.attached()).pid);
    for (const t of [mine, theirs, again]) t.socket.close(1000, "done");
  });
});

describe("the terminal socket", () => {
  let user: { id: string; apiKey: string };
  beforeAll(async () => {
    user = await createUser("term-socket");
  });

  it("runs what is typed in a shell and shows its output", async () => {
    const term = await open(user.apiKey, "t-echo");
    expect(await term.attached()).toMatchObject({ resumed: false });
    term.type("echo $((6*7))\r");
    await term.see("42\r\n");
    term.socket.close(1000, "done");
  });

  it("re-attaches a new connection to the same shell, replaying its recent output", async () => {
    const first = await open(user.apiKey, "t-again");
    const { pid } = await first.attached();
    first.type("export X=7; echo ready-$((3*3))\r");
    await first.see("ready-9");
    first.socket.close(1000, "dropped");

    const second = await open(user.apiKey, "t-again");
    expect(await second.attached()).toEqual({ type: "attached", pid, resumed: true });
    // The recent output comes first, so the page shows the terminal as it was.
    await second.see("ready-9");
    second.type("echo x-is-$X\r");
    await second.see("x-is-7");
    second.socket.close(1000, "done");
  });

  it("finds its shell again after the user's object restarted (a deploy, an eviction)", async () => {
    const first = await open(user.apiKey, "t-restart");
    const { pid } = await first.attached();
    first.type("export Y=8; echo before-$((4*4))\r");
    await first.see("before-16");
    // Throws the object's memory away, as a deploy does: its sockets and in-memory shells go with it (workerd
    // logs the abort as an uncaught "outputGateBroken: restart"; that is this line, not a failure).
    await runInDurableObject(userSpace(env, user.id), (_instance, state) => state.abort("restart")).catch(() => {});
    const closed = await first.closed;
    expect(closed.code).not.toBe(1000);

    const second = await open(user.apiKey, "t-restart");
    expect(await second.attached()).toEqual({ type: "attached", pid, resumed: true });
    second.type("echo y-is-$Y\r");
    await second.see("y-is-8");
    second.socket.close(1000, "done");
  });

  it("hands the shell to the newest connection (the older one is closed with 4409)", async () => {
    const first = await open(user.apiKey, "t-newest");
    const { pid } = await first.attached();
    const second = await open(user.apiKey, "t-newest");
    expect((await first.closed).code).toBe(4409);
    expect(await second.attached()).toMatchObject({ pid, resumed: true });
    second.type("echo still-$((5*5))\r");
    await second.see("still-25");
    second.socket.close(1000, "done");
  });

  it("resizes the terminal on a resize message, and answers other text with an error message", async () => {
    const term = await open(user.apiKey, "t-resize");
    term.socket.send(JSON.stringify({ type: "resize", cols: 123, rows: 45 }));
    term.type("stty size; echo sized-$((2*4))\r");
    await term.see("sized-8");
    expect(term.output).toContain("45 123");
    term.socket.send("ls");
    for (let i = 0; i < 200 && !term.messages.some((m) => m.type === "error"); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(term.messages.find((m) => m.type === "error")?.message).toContain("resize");
    // Keystrokes as a text control message, for clients that only send text.
    term.socket.send(JSON.stringify({ type: "input", data: "echo text-$((3+4))\r" }));
    await term.see("text-7");
    term.socket.close(1000, "done");
  });

  it("closes with 1000 when the shell exits; the next connection starts a new one", async () => {
    const term = await open(user.apiKey, "t-exit");
    const { pid } = await term.attached();
    term.type("exit 3\r");
    expect(await term.closed).toEqual({ code: 1000, reason: "The shell exited (status 3)." });
    const next = await open(user.apiKey, "t-exit");
    const attached = await next.attached();
    expect(attached.resumed).toBe(false);
    expect(attached.pid).not.toBe(pid);
    next.socket.close(1000, "done");
  });
});

// A user of their own: the shells above hold their sandboxes until they idle out (MAX_SANDBOXES_PER_USER).
describe("the end of a terminal", () => {
  let user: { id: string; apiKey: string };
  beforeAll(async () => {
    user = await createUser("term-end");
  });

  it("closes an idle terminal (4408) and kills its shell", async () => {
    const term = await open(user.apiKey, "t-idle");
    const { pid } = await term.attached();
    term.type("echo typed-$((2+2))\r");
    await term.see("typed-4");
    // TERMINAL_IDLE_SECONDS is small in the test pool (vitest.config.ts).
    const closed = await term.closed;
    expect(closed.code).toBe(4408);
    expect(closed.reason).toContain("without input");
    const next = await open(user.apiKey, "t-idle");
    const attached = await next.attached();
    expect(attached.resumed).toBe(false);
    expect(attached.pid).not.toBe(pid);
    next.type(`ps -o pid= -p ${pid} || echo gone-$((1+1))\r`);
    await next.see("gone-2");
    next.socket.close(1000, "done");
  });

  it("closes with 4410 when the conversation's sandbox is closed under it", async () => {
    const term = await open(user.apiKey, "t-gone");
    term.type("echo up-$((1+1))\r");
    await term.see("up-2");
    expect((await call("/api/v1/sandboxes/t-gone", { key: user.apiKey, method: "DELETE" })).status).toBe(204);
    const closed = await term.closed;
    expect(closed.code).toBe(4410);
    expect(closed.reason).toContain("sandbox stopped");
  });
});
