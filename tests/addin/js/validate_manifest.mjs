// Validates a unified manifest offline against the JSON schema shipped in @microsoft/app-manifest
// (the schema of the manifest's own manifestVersion). Usage: node validate_manifest.mjs manifest.json
// Prints one line per error and exits 1 when invalid, 0 when valid.
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const Ajv04 = require("ajv-draft-04");
const addFormats = require("ajv-formats");

const manifestPath = process.argv[2];
if (!manifestPath) {
  console.error("usage: node validate_manifest.mjs <manifest.json>");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const pkg = dirname(require.resolve("@microsoft/app-manifest/package.json"));
const version = manifest.manifestVersion;
const schemaPath = join(pkg, "build", "json-schemas", "teams", `v${version}`, "MicrosoftTeams.schema.json");
if (!existsSync(schemaPath)) {
  console.error(`manifestVersion ${version}: no schema for it in @microsoft/app-manifest`);
  process.exit(1);
}
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
const ajv = new Ajv04({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (validate(manifest)) {
  console.log(`valid against ${schemaPath.slice(pkg.length + 1)}`);
  process.exit(0);
}
for (const err of validate.errors) {
  console.log(`${err.instancePath || "/"}: ${err.message} ${JSON.stringify(err.params)}`);
}
process.exit(1);
