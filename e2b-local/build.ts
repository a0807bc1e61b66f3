// Run by `npm pack` as prepack: dist/ is what the published package runs. Node does not
// strip types from files under node_modules, so the TypeScript is compiled to JavaScript + declarations
// (tsconfig.build.json; relative `./x.ts` imports become `./x.js`), and the files the code loads beside
// itself (agent.py, sudo.py, port-relay.py, interpreter/) are copied next to it. `--clean` removes dist/
// (postpack does, so no build is left behind for the Phoenix repository to run by mistake).
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const here = import.meta.dirname;
const dist = join(here, "dist");
rmSync(dist, { recursive: true, force: true });
if (process.argv[2] !== "--clean") {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(here, "tsconfig.build.json")], { stdio: "inherit" });
  for (const name of readdirSync(here)) if (name.endsWith(".py")) cpSync(join(here, name), join(dist, name));
  cpSync(join(here, "interpreter"), join(dist, "interpreter"), { recursive: true });
}
