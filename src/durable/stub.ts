// The typed stub of a user's Durable Object (routes get it as `c.var.userSpace`, set once after auth),
// and the volume ledger as the Worker reaches it over RPC.
import type { LedgerPort } from "../volume/store.ts";
import { unwrap } from "./outcome.ts";
import type { UserSpace } from "./user-space.ts";

export type UserSpaceStub = DurableObjectStub<UserSpace>;

/** The user's object, addressed by their id (UserSpace derives its owner from that name). */
export function userSpace(env: Env, userId: string): UserSpaceStub {
  return env.USER_SPACE.get(env.USER_SPACE.idFromName(userId));
}

/** The user's volume ledger over RPC, for writers running in the Worker (uploads, imports). */
export function remoteLedger(space: UserSpaceStub): LedgerPort {
  return {
    reserve: async (entries) => unwrap(await space.reserveVolume(entries)),
    commit: async (commits) => unwrap(await space.commitVolume(commits)),
    release: async (ids) => unwrap(await space.releaseVolume(ids)),
  };
}
