// The xenwasm host library's public entry: what a test suite or tool imports from "xenwasm"
// (docs/host-api.md): build and run a Xen system, follow its consoles and xenstore, read how each
// domain ended; and the ABI manifest with its check against Xen's headers.
export {
  XenSystem, runSystem, ConfigError, DEFAULT_BACKEND, MAX_KEPT_CONSOLE_LINES,
  type SystemConfig, type GuestConfig, type DiskConfig, type WasmSource, type ConsoleLine, type SystemResult, type HostXenstore, type AbiChoice,
  type FaultOptions, type DomainStatus,
} from "./host/system.js";
export type { RingSample } from "./toolstack/rings.js";
export { Dashboard } from "./host/dashboard.js";
export { MAX_CONSOLE_LINE, type DomainResult } from "./runner/common.js";
export type { XsUsage } from "./xenstore/store.js";
export type { VifSpec } from "./toolstack/vifs.js";
export type { UplinkSpec, UplinkStats, UdpEndpoint } from "./devices/uplink.js";
export { loadManifest, manifestJson, manifestToJson, parseManifest, type AbiManifest, type AbiType } from "./abi/manifest.js";
export { checkManifest, headersInstalled, installedHeadersVersion, type CheckResult, type Mismatch } from "./abi/check.js";
