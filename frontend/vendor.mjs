// Copies the pinned npm packages' files (and their licences) into the tree, and records what was
// copied in vendored.json (package, version, sha256 of each file) so a test can check the copies
// offline. The browser never loads anything from a CDN: the pages serve these copies themselves.
//
//   cd frontend && npm ci --ignore-scripts && node vendor.mjs          (re-vendor)
//   cd frontend && npm ci --ignore-scripts && node vendor.mjs --check  (CI: copies == npm)
//
// A package npm ships only as CommonJS modules (JsSIP) is bundled into one ES module by the pinned
// esbuild (BUNDLES): the same versions give the same bytes, so --check rebuilds and compares.
import {buildSync} from "esbuild";
import {createHash} from "node:crypto";
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {dirname, join, relative} from "node:path";
import {fileURLToPath} from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
// package → [file inside the package, destination relative to the repository]
const FILES = {
  "lit-html": [
    // The auto-escaping templates of the desktop pages (see agent_desktop/static/lib/html.js).
    ["lit-html.js", "agent_desktop/static/vendor/lit-html/lit-html.js"],
    ["directive.js", "agent_desktop/static/vendor/lit-html/directive.js"],
    ["directive-helpers.js", "agent_desktop/static/vendor/lit-html/directive-helpers.js"],
    ["directives/repeat.js", "agent_desktop/static/vendor/lit-html/directives/repeat.js"],
    ["LICENSE", "agent_desktop/static/vendor/lit-html/LICENSE"],
  ],
  "jssip": [
    // The softphone's SIP over WebSocket (agent_desktop/static/softphone.js); bundled, see BUNDLES.
    // The bundle holds its dependencies too (npm installs them beside it): their licences travel with it.
    ["LICENSE.md", "agent_desktop/static/vendor/jssip/LICENSE"],
    ["../debug/LICENSE", "agent_desktop/static/vendor/jssip/LICENSE-debug"],
    ["../ms/license.md", "agent_desktop/static/vendor/jssip/LICENSE-ms"],
    ["../events/LICENSE", "agent_desktop/static/vendor/jssip/LICENSE-events"],
    ["../sdp-transform/LICENSE", "agent_desktop/static/vendor/jssip/LICENSE-sdp-transform"],
  ],
  "axe-core": [
    // Test support only: the browser tests inject it to check accessibility; never served.
    ["axe.min.js", "tests/browser/vendor/axe-core/axe.min.js"],
    ["LICENSE", "tests/browser/vendor/axe-core/LICENSE"],
    ["LICENSE-3RD-PARTY.txt", "tests/browser/vendor/axe-core/LICENSE-3RD-PARTY.txt"],
  ],
};

// package → [entry module inside the package, destination of the ES-module bundle]
const BUNDLES = {
  jssip: ["lib/JsSIP.js", "agent_desktop/static/vendor/jssip/jssip.js"],
};

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
const check = process.argv.includes("--check");
const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const record = {};
let bad = 0;
for (const [pkg, files] of Object.entries(FILES)) {
  const version = JSON.parse(readFileSync(join(here, "node_modules", pkg, "package.json"), "utf8")).version;
  const locked = lock.packages[`node_modules/${pkg}`].version;
  if (version !== locked) { console.error(`${pkg}: node_modules has ${version}, the lock pins ${locked}`); bad++; }
  record[pkg] = {version, files: {}};
  for (const [src, dest] of files) {
    const from = join(here, "node_modules", pkg, src), to = join(repo, dest);
    if (check) {
      if (sha256(from) !== sha256(to)) { console.error(`${dest} differs from ${pkg}@${version}/${src}`); bad++; }
    } else {
      mkdirSync(dirname(to), {recursive: true});
      copyFileSync(from, to);
    }
    record[pkg].files[relative(repo, to)] = sha256(from);
  }
}
for (const [pkg, [entry, dest]] of Object.entries(BUNDLES)) {
  const built = buildSync({
    entryPoints: [join(here, "node_modules", pkg, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "inline",
    // debug's browser build reads localStorage; nothing else differs between builds.
    define: {"process.env.NODE_ENV": '"production"'},
    write: false,
  }).outputFiles[0].contents;
  const to = join(repo, dest), digest = createHash("sha256").update(built).digest("hex");
  if (check) {
    if (digest !== sha256(to)) { console.error(`${dest} differs from a fresh bundle of ${pkg}`); bad++; }
  } else {
    mkdirSync(dirname(to), {recursive: true});
    writeFileSync(to, built);
  }
  record[pkg].files[relative(repo, to)] = digest;
}
if (!check) writeFileSync(join(here, "vendored.json"), JSON.stringify(record, null, 2) + "\n");
else if (JSON.stringify(record, null, 2) + "\n" !== readFileSync(join(here, "vendored.json"), "utf8")) {
  console.error("vendored.json is out of date: run node vendor.mjs"); bad++;
}
process.exit(bad ? 1 : 0);
