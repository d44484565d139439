// Rebuilds the app into a temporary folder and fails when the committed
// web/dist differs from it (a stale bundle: run `npm run build` and commit).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const app = dirname(dirname(fileURLToPath(import.meta.url)));
const committed = join(app, "..", "dist");
const fresh = mkdtempSync(join(tmpdir(), "cozygen-dist-"));

function files(root) {
  const out = new Map();
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(root, path).split("\\").join("/"), readFileSync(path));
    }
  };
  walk(root);
  return out;
}

try {
  const vite = join(app, "node_modules", "vite", "bin", "vite.js");
  const build = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], {
    cwd: app,
    env: { ...process.env, COZYGEN_DIST_DIR: fresh },
    stdio: "inherit",
  });
  if (build.status !== 0) {
    console.error("check-dist: the build failed");
    process.exit(1);
  }
  const want = files(fresh);
  const have = files(committed);
  const problems = [];
  for (const [name, bytes] of want) {
    if (!have.has(name)) problems.push(`missing from web/dist: ${name}`);
    else if (!have.get(name).equals(bytes)) problems.push(`differs from a fresh build: web/dist/${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`not produced by the build (stale): web/dist/${name}`);
  if (problems.length) {
    console.error("check-dist: the committed web/dist is not what web/app builds:\n  " + problems.join("\n  "));
    console.error("Run `npm run build` in web/app and commit web/dist.");
    process.exit(1);
  }
  console.log(`check-dist: web/dist matches a fresh build (${want.size} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
