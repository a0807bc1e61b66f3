// Identifiers: a type prefix, then a time part so that ids sort by creation, then randomness.
export function newId(prefix: "usr" | "key" | "exe" | "pkg" | "sch" | "whk" | "msg" | "whd" | "mcp" | "shr"): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const random = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}_${time}${[...random].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
