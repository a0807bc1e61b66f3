// The drizzle handle over the D1 binding.
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema.ts";

type Drizzle = ReturnType<typeof drizzle<typeof schema, D1Database>>;

/**
 * One handle per binding: building one walks the whole schema (drizzle's relational config), which
 * the CPU profile (`npm run bench:profile`) showed on every run when it was built per call.
 */
const handles = new WeakMap<D1Database, Drizzle>();

export function getDb(env: Env): Drizzle {
  let db = handles.get(env.DB);
  if (!db) {
    db = drizzle(env.DB, { schema });
    handles.set(env.DB, db);
  }
  return db;
}

export type Db = ReturnType<typeof getDb>;
