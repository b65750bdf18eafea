#!/usr/bin/env node
// Builds the npm packages from built binaries, with the version of Cargo.toml:
//
//   node npm/build.mjs --out DIR [--binary PLATFORM=PATH]... [--pack]
//
// DIR/leaktrail is the main package (the launcher, npm/leaktrail); DIR/PLATFORM, for each
// --binary, the package @leaktrail/PLATFORM holding that binary (PLATFORM: linux-x64,
// linux-arm64 — the optional dependencies of npm/leaktrail/package.json). --pack also runs
// `npm pack` in each and prints the tarballs' paths, one a line, on stdout.
// With GITHUB_REPOSITORY set (GitHub Actions), the packages name that repository, which
// `npm publish --provenance` requires.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);

function die(message) {
  process.stderr.write(`npm/build.mjs: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { out: null, binaries: [], pack: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out") {
      args.out = argv[++i];
    } else if (a === "--binary") {
      const spec = argv[++i] ?? "";
      const eq = spec.indexOf("=");
      if (eq < 1) die(`--binary ${spec}: give PLATFORM=PATH`);
      args.binaries.push({ platform: spec.slice(0, eq), file: spec.slice(eq + 1) });
    } else if (a === "--pack") {
      args.pack = true;
    } else {
      die(`unknown argument ${a}; usage: node npm/build.mjs --out DIR [--binary PLATFORM=PATH]... [--pack]`);
    }
  }
  if (!args.out) die("--out DIR is required");
  return args;
}

// The version of the leaktrail crate: `version = "…"` in the [package] table.
function cargoVersion() {
  const toml = fs.readFileSync(path.join(root, "Cargo.toml"), "utf8");
  const table = toml.split(/^\[/m).find((t) => t.startsWith("package]"));
  const m = table && table.match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) die("no version in the [package] table of Cargo.toml");
  return m[1];
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

const args = parseArgs(process.argv.slice(2));
const version = cargoVersion();
const out = path.resolve(args.out);
const repository = process.env.GITHUB_REPOSITORY
  ? { type: "git", url: `git+${process.env.GITHUB_SERVER_URL || "https://github.com"}/${process.env.GITHUB_REPOSITORY}.git` }
  : undefined;

// The main package: the launcher, every platform package at this very version.
const template = path.join(here, "leaktrail");
const main = JSON.parse(fs.readFileSync(path.join(template, "package.json"), "utf8"));
main.version = version;
for (const dep of Object.keys(main.optionalDependencies)) {
  main.optionalDependencies[dep] = version;
}
if (repository) main.repository = repository;
const mainDir = path.join(out, "leaktrail");
fs.rmSync(mainDir, { recursive: true, force: true });
fs.mkdirSync(path.join(mainDir, "bin"), { recursive: true });
writeJson(path.join(mainDir, "package.json"), main);
fs.copyFileSync(path.join(template, "README.md"), path.join(mainDir, "README.md"));
fs.copyFileSync(path.join(template, "bin", "leaktrail.js"), path.join(mainDir, "bin", "leaktrail.js"));
fs.chmodSync(path.join(mainDir, "bin", "leaktrail.js"), 0o755);
const dirs = [mainDir];

// One package per binary.
for (const { platform, file } of args.binaries) {
  const name = `@leaktrail/${platform}`;
  if (!(name in main.optionalDependencies)) {
    die(`--binary ${platform}: not a platform of npm/leaktrail/package.json (${Object.keys(main.optionalDependencies).join(", ")})`);
  }
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) die(`--binary ${platform}=${file}: no such file`);
  const [os, cpu] = platform.split("-");
  const dir = path.join(out, platform);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
  const manifest = {
    name,
    version,
    description: `The leaktrail binary for ${platform} (static: glibc and musl distributions alike). Install leaktrail, not this.`,
    license: main.license,
    ...(repository ? { repository } : {}),
    os: [os],
    cpu: [cpu],
    files: ["bin/leaktrail"],
    preferUnplugged: true,
  };
  writeJson(path.join(dir, "package.json"), manifest);
  const readme = fs.readFileSync(path.join(here, "platform-README.md"), "utf8");
  fs.writeFileSync(path.join(dir, "README.md"), readme.replaceAll("PLATFORM", platform));
  fs.copyFileSync(file, path.join(dir, "bin", "leaktrail"));
  fs.chmodSync(path.join(dir, "bin", "leaktrail"), 0o755);
  dirs.push(dir);
}

for (const dir of dirs) {
  process.stderr.write(`npm/build.mjs: ${path.relative(process.cwd(), dir) || "."} (${version})\n`);
}
if (args.pack) {
  for (const dir of dirs) {
    const json = execFileSync("npm", ["pack", "--json", "--pack-destination", out], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    process.stdout.write(path.join(out, JSON.parse(json)[0].filename) + "\n");
  }
}
