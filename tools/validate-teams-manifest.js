#!/usr/bin/env node
// Check a Teams app manifest against Microsoft's JSON schema, offline.
//
//   node tools/validate-teams-manifest.js path/to/manifest.json
//
// Exit 0 and "VALID ..." when it conforms; exit 1 and "INVALID ..." with one line per problem
// when it does not; exit 2 when it could not be checked at all (no file, `npm ci` not run, or a
// $schema whose schema is not bundled).
//
// Why: Teams only reports a bad manifest when someone uploads the package, in front of the people
// who were meant to start using it. @microsoft/app-manifest bundles every published Teams schema,
// and resolves a developer.microsoft.com $schema URL to its bundled copy, so this runs in CI with
// no network. The script refuses, rather than lets the library fall back to a download, when the
// $schema is not one it bundles: a check that quietly depends on the network is not offline.
//
// It also checks what the schema cannot: that the two icons the manifest names sit next to it as
// PNGs of the sizes Teams insists on (192x192 colour, 32x32 outline).

"use strict";

const fs = require("fs");
const path = require("path");

const EXIT_VALID = 0;
const EXIT_INVALID = 1;
const EXIT_ERROR = 2;
const SCHEMA_HOST = "https://developer.microsoft.com";
const ICON_SIZES = { color: 192, outline: 32 };

function fail(message) {
  console.error(`ERROR ${message}`);
  process.exit(EXIT_ERROR);
}

// @microsoft/app-manifest (1.1.2 and earlier) requires fs-extra without declaring it, which is why
// package.json lists fs-extra itself; a missing module is named here rather than hidden.
function loadLibrary() {
  try {
    require.resolve("@microsoft/app-manifest");
  } catch (err) {
    fail("@microsoft/app-manifest is not installed; run `npm ci` at the repository root");
  }
  try {
    return require("@microsoft/app-manifest");
  } catch (err) {
    fail(`@microsoft/app-manifest cannot load (${err.message.split("\n")[0]}); run \`npm ci\``);
  }
}

// The bundled file for a developer.microsoft.com/json-schemas/teams/... URL (an optional locale
// segment such as /en-us/ is ignored, as the library itself does), or null.
function bundledSchemaPath(schemaUrl) {
  let url;
  try {
    url = new URL(schemaUrl);
  } catch (err) {
    return null;
  }
  if (`${url.protocol}//${url.host}` !== SCHEMA_HOST) return null;
  const pathname = url.pathname.replace(/^\/[a-z]{2}(?:-[a-z]{2})?(?=\/json-schemas\/)/i, "");
  if (!pathname.startsWith("/json-schemas/teams/")) return null;
  const root = path.dirname(require.resolve("@microsoft/app-manifest/package.json"));
  const file = path.join(root, "build", ...pathname.split("/").filter(Boolean));
  return fs.existsSync(file) ? file : null;
}

// [width, height] from a PNG's IHDR chunk, or null if the bytes are not a PNG.
function pngSize(data) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (data.length < 24 || !data.subarray(0, 8).equals(signature)) return null;
  if (data.toString("latin1", 12, 16) !== "IHDR") return null;
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

function iconProblems(manifest, directory) {
  const problems = [];
  for (const [kind, size] of Object.entries(ICON_SIZES)) {
    const relative = manifest.icons && manifest.icons[kind];
    if (typeof relative !== "string") continue; // the schema reports a missing icon
    const file = path.join(directory, relative);
    if (!fs.existsSync(file)) {
      problems.push(`/icons/${kind} ${relative} is not next to the manifest`);
      continue;
    }
    const found = pngSize(fs.readFileSync(file));
    if (!found) problems.push(`/icons/${kind} ${relative} is not a PNG`);
    else if (found[0] !== size || found[1] !== size) {
      problems.push(`/icons/${kind} ${relative} is ${found[0]}x${found[1]}, must be ${size}x${size}`);
    }
  }
  return problems;
}

async function main() {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) fail("usage: node tools/validate-teams-manifest.js <manifest.json>");
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    fail(`cannot read ${file}: ${err.message}`);
  }
  let manifest;
  try {
    manifest = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    console.error(`INVALID ${file}:\n  not JSON: ${err.message}`);
    process.exit(EXIT_INVALID);
  }
  if (manifest === null || typeof manifest !== "object" || Array.isArray(manifest)) {
    console.error(`INVALID ${file}:\n  not a JSON object`);
    process.exit(EXIT_INVALID);
  }
  const { AppManifestUtils } = loadLibrary();
  const schemaUrl = manifest.$schema;
  if (typeof schemaUrl !== "string") fail(`${file} has no $schema, so there is no schema to check it against`);
  if (!bundledSchemaPath(schemaUrl)) {
    fail(`${file}: $schema ${schemaUrl} is not a Teams schema bundled in @microsoft/app-manifest; refusing to fetch it`);
  }
  // ajv names the failing place by JSON pointer, which is empty for the top level
  const errors = (await AppManifestUtils.validateAgainstSchema(manifest)).map((error) =>
    error.startsWith(" ") ? `(top level)${error}` : error,
  );
  errors.push(...iconProblems(manifest, path.dirname(path.resolve(file))));
  if (errors.length) {
    console.error(`INVALID ${file}:\n  ${errors.join("\n  ")}`);
    process.exit(EXIT_INVALID);
  }
  const version = require("@microsoft/app-manifest/package.json").version;
  console.log(`VALID ${file} (manifestVersion ${manifest.manifestVersion}, offline schema from @microsoft/app-manifest ${version})`);
  process.exit(EXIT_VALID);
}

main().catch((err) => fail(err && err.message ? err.message : String(err)));
