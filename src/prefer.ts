// The `Prefer` request header (RFC 7240): `wait=<seconds>`, `respond-async`, … as a name → value map.
export function preferences(header: string | undefined): Map<string, string> {
  const prefs = new Map<string, string>();
  for (const part of (header ?? "").split(",")) {
    const [token] = part.split(";");
    const match = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*(?:=\s*"?([^"]*)"?)?\s*$/.exec(token ?? "");
    if (match?.[1]) prefs.set(match[1].toLowerCase(), match[2] ?? "");
  }
  return prefs;
}
