// Validate one glTF/GLB file with the Khronos glTF-Validator; print its report as JSON on stdout.
// Usage: node validate.mjs FILE.glb
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs FILE.glb");
  process.exit(2);
}
const data = new Uint8Array(await readFile(path));
const report = await validator.validateBytes(data, { uri: path, maxIssues: 200, writeTimestamp: false });
console.log(JSON.stringify(report));
