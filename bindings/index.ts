// The xenwasm host library's public entry: what a test suite or tool imports from "xenwasm".
export { loadManifest, manifestJson, parseManifest, type AbiManifest, type AbiType } from "./abi/manifest.js";
export { checkManifest, headersInstalled, installedHeadersVersion, type CheckResult, type Mismatch } from "./abi/check.js";
