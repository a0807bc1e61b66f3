// What travels on the terminal's WebSocket (README "Web terminal"): binary frames are bytes (keystrokes
// in, terminal output out); text frames are small JSON control messages; close codes say why it ended.
import { z } from "zod";

/** From the client: a new size, or keystrokes as text (for clients that cannot send binary frames). */
export const clientMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("resize"), cols: z.int().min(1).max(1000), rows: z.int().min(1).max(1000) }),
  z.object({ type: z.literal("input"), data: z.string() }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** To the client, first on every connection: which shell it reached, and whether it was already running. */
export interface AttachedMessage {
  type: "attached";
  pid: number;
  /** True when this connection re-attached to a shell that was already running (its recent output follows). */
  resumed: boolean;
}

/** To the client: a text frame it sent was not a control message (the connection stays open). */
export interface ErrorMessage {
  type: "error";
  message: string;
}

/** How a terminal connection ends, beyond the standard codes (1000: the shell exited). */
export const CLOSE = {
  /** The shell exited by itself (`exit`); a new connection starts a new one. */
  exited: 1000,
  /** Something broke on the server side. */
  internal: 1011,
  /** No keystroke for TERMINAL_IDLE_SECONDS: the shell was killed. */
  idle: 4408,
  /** Another connection took this terminal over (the newest one wins). */
  replaced: 4409,
  /** The conversation's sandbox stopped (closed, reaped or expired): its shell with it. */
  sandboxGone: 4410,
  /** A frame larger than MAX_INPUT_FRAME_BYTES. */
  tooLarge: 1009,
} as const;

/** Largest keystroke frame accepted (a paste); beyond it the connection is closed (1009). */
export const MAX_INPUT_FRAME_BYTES = 64 * 1024;
/** Recent output kept per terminal and replayed to a connection that re-attaches. */
export const SCROLLBACK_BYTES = 64 * 1024;
/** The size a shell starts with, until the client's first resize. */
export const DEFAULT_SIZE = { cols: 80, rows: 24 } as const;
