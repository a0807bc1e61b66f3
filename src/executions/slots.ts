// A user's execution slots (MAX_CONCURRENT_EXECUTIONS) and the queue in front of them: a run that finds
// every slot taken waits, first come first served, for as long as its client said it would
// (`Prefer: wait=<s>`), and leaves the queue when its client goes away.
import { ApiError } from "../errors.ts";

export interface SlotWait {
  /** How long this run may wait for a slot; 0 answers 429 at once when none is free. */
  waitMs: number;
  /** Aborted when the client went away: the run leaves the queue. */
  signal?: AbortSignal;
  /** Told the run's place in the queue (1 = next) when it joins and each time it moves up. */
  onQueued?: (position: number) => void;
}

interface Waiter {
  grant: () => void;
  wait: SlotWait;
}

export class Slots {
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly capacity: () => number;
  private readonly queueLimit: () => number;

  constructor(capacity: () => number, queueLimit: () => number) {
    this.capacity = capacity;
    this.queueLimit = queueLimit;
  }

  /** Takes a slot, waiting for one if allowed; resolves to the function that gives it back. */
  async acquire(wait: SlotWait): Promise<() => void> {
    const capacity = this.capacity();
    if (this.running < capacity && this.queue.length === 0) return this.take();
    const busy = `At most ${capacity} executions and package installs may run at once per user`;
    if (wait.waitMs <= 0) {
      throw new ApiError(
        "rate_limited",
        `${busy}; retry when one finishes, or send \`Prefer: wait=<seconds>\` to queue.`,
        {
          retryAfterSeconds: 1,
        },
      );
    }
    if (this.queue.length >= this.queueLimit()) {
      throw new ApiError("rate_limited", `${busy}, and ${this.queueLimit()} more are already waiting; retry later.`, {
        retryAfterSeconds: 5,
      });
    }
    if (wait.signal?.aborted) throw gone();
    await new Promise<void>((resolve, reject) => {
      // The slot is counted as taken the moment it is granted, so no newcomer can slip in before.
      const waiter: Waiter = {
        grant: () => {
          this.running++;
          settle(resolve);
        },
        wait,
      };
      const timer = setTimeout(() => {
        settle(() =>
          reject(
            new ApiError(
              "rate_limited",
              `${busy}; no slot freed within the ${Math.round(wait.waitMs / 1000)} s asked.`,
              {
                retryAfterSeconds: 1,
              },
            ),
          ),
        );
      }, wait.waitMs);
      const onAbort = () => settle(() => reject(gone()));
      const settle = (then: () => void) => {
        clearTimeout(timer);
        wait.signal?.removeEventListener("abort", onAbort);
        this.leave(waiter);
        then();
      };
      wait.signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
      wait.onQueued?.(this.queue.length);
    });
    return this.releaser();
  }

  /** Runs holding a slot now, and runs waiting for one. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  private take(): () => void {
    this.running++;
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      // The slot goes to the first in line.
      if (this.running < this.capacity()) this.queue[0]?.grant();
    };
  }

  private leave(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter);
    if (at < 0) return;
    this.queue.splice(at, 1);
    for (const [i, behind] of this.queue.entries()) if (i >= at) behind.wait.onQueued?.(i + 1);
  }
}

/** Nobody reads it: the client is gone; the run simply never starts (and is not recorded). */
function gone(): ApiError {
  return new ApiError("rate_limited", "The client went away while the run waited for a slot.");
}
