// Copies the pinned npm packages' files (and their licences) into the tree, and records what was
// copied in vendored.json (package, version, sha256 of each file) so a test can check the copies
// offline. The browser never loads anything from a CDN: the pages serve these copies themselves.
//
//   cd frontend && npm ci --ignore-scripts && node vendor.mjs          (re-vendor)
//   cd frontend && npm ci --ignore-scripts && node vendor.mjs --check  (CI: copies == npm)
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
  "axe-core": [
    // Test support only: the browser tests inject it to check accessibility; never served.
    ["axe.min.js", "tests/browser/vendor/axe-core/axe.min.js"],
    ["LICENSE", "tests/browser/vendor/axe-core/LICENSE"],
    ["LICENSE-3RD-PARTY.txt", "tests/browser/vendor/axe-core/LICENSE-3RD-PARTY.txt"],
  ],
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
if (!check) writeFileSync(join(here, "vendored.json"), JSON.stringify(record, null, 2) + "\n");
else if (JSON.stringify(record, null, 2) + "\n" !== readFileSync(join(here, "vendored.json"), "utf8")) {
  console.error("vendored.json is out of date: run node vendor.mjs"); bad++;
}
process.exit(bad ? 1 : 0);
