// The xenstore wire vocabulary the engine speaks (io/xs_wire.h and docs/misc/xenstore.txt): message
// numbers and error names read from the ABI manifest, the decoded message type, and the C-style
// payload parsing (nul-terminated strings, atoi, strtoul) whose quirks a faithful xenstored keeps.
// Strings here are "binary" strings: one char per byte (latin1), so a token or a junk path round
// trips byte for byte; valid paths are ASCII anyway.
import { abi, k } from "../abi/layout.js";

/** One decoded xenstore message (struct xsd_sockmsg + payload); the payload belongs to whoever built it. */
export interface XsMessage { type: number; reqId: number; txId: number; payload: Uint8Array }

/** Message type numbers (enum xsd_sockmsg_type), read from the ABI manifest by name. */
export const XS = {
  CONTROL: k("XS_CONTROL"), DIRECTORY: k("XS_DIRECTORY"), READ: k("XS_READ"), GET_PERMS: k("XS_GET_PERMS"),
  WATCH: k("XS_WATCH"), UNWATCH: k("XS_UNWATCH"), TRANSACTION_START: k("XS_TRANSACTION_START"),
  TRANSACTION_END: k("XS_TRANSACTION_END"), INTRODUCE: k("XS_INTRODUCE"), RELEASE: k("XS_RELEASE"),
  GET_DOMAIN_PATH: k("XS_GET_DOMAIN_PATH"), WRITE: k("XS_WRITE"), MKDIR: k("XS_MKDIR"), RM: k("XS_RM"),
  SET_PERMS: k("XS_SET_PERMS"), WATCH_EVENT: k("XS_WATCH_EVENT"), ERROR: k("XS_ERROR"),
  IS_DOMAIN_INTRODUCED: k("XS_IS_DOMAIN_INTRODUCED"), RESUME: k("XS_RESUME"), SET_TARGET: k("XS_SET_TARGET"),
  RESET_WATCHES: k("XS_RESET_WATCHES"), DIRECTORY_PART: k("XS_DIRECTORY_PART"),
  GET_FEATURE: k("XS_GET_FEATURE"), SET_FEATURE: k("XS_SET_FEATURE"), GET_QUOTA: k("XS_GET_QUOTA"), SET_QUOTA: k("XS_SET_QUOTA"),
} as const;

/** Largest payload in either direction (XENSTORE_PAYLOAD_MAX). */
export const PAYLOAD_MAX = k("XENSTORE_PAYLOAD_MAX");
/** Longest absolute path, and longest path below /local/domain/<domid>/ (XENSTORE_*_PATH_MAX). */
export const ABS_PATH_MAX = k("XENSTORE_ABS_PATH_MAX");
export const REL_PATH_MAX = k("XENSTORE_REL_PATH_MAX");
/** The server_features bits this engine supports (C's XENSTORE_FEATURES): reconnection and the error field. */
export const SUPPORTED_FEATURES = k("XENSTORE_SERVER_FEATURE_RECONNECTION") | k("XENSTORE_SERVER_FEATURE_ERROR");
/** DOMID_SELF (answers T to IS_DOMAIN_INTRODUCED) and the first reserved domid. */
export const DOMID_SELF = k("DOMID_SELF");
export const DOMID_FIRST_RESERVED = k("DOMID_FIRST_RESERVED");

/** The error names an XS_ERROR reply may carry, in C's xsd_errors[] order (from the manifest tables). */
const ERRSTRINGS = abi().tables["xsd_errors[].errstring"] as string[];
const ERRNUMS = abi().tables["xsd_errors[].errnum"] as number[];

/** Name of one xsd_errors[] row ("EINVAL", "EACCES", ...). */
export type XsErrName = string;

/** Checks at load time that every error name the engine uses is a row of xsd_errors[]. */
function errName(name: string): XsErrName {
  if (!ERRSTRINGS.includes(name)) throw new Error(`xsd_errors[] has no ${name}`);
  return name;
}
/** The xsd_errors[] names the engine replies with, by name (so a typo fails at load, not on the wire). */
export const E = {
  INVAL: errName("EINVAL"), ACCES: errName("EACCES"), EXIST: errName("EEXIST"), NOENT: errName("ENOENT"),
  NOMEM: errName("ENOMEM"), NOSPC: errName("ENOSPC"), IO: errName("EIO"), NOSYS: errName("ENOSYS"),
  BUSY: errName("EBUSY"), AGAIN: errName("EAGAIN"), TOOBIG: errName("E2BIG"), PERM: errName("EPERM"),
} as const;

/** A xenstore error: `code` is the xsd_errors[] name, `errno` its Linux number from the same row. */
export class XsError extends Error {
  readonly errno: number;
  constructor(readonly code: XsErrName, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = "XsError";
    this.errno = ERRNUMS[ERRSTRINGS.indexOf(code)] ?? 22;
  }
}

/** Throws the xenstore error `code` (used where C returns an errno). */
export function fail(code: XsErrName, detail?: string): never {
  throw new XsError(code, detail);
}

/** Decodes bytes into a binary string (one char per byte). */
export function bin(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = "";
  for (let i = start; i < end; i += 8192) s += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 8192)));
  return s;
}

/** Encodes a binary string (chars 0..255) back into bytes. */
export function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Encodes strings each followed by a nul, the usual reply shape ("OK\0", "T\0", children lists). */
export function strings(...parts: string[]): Uint8Array {
  return bytes(parts.map((p) => p + "\0").join(""));
}

/**
 * C's get_strings(): every nul-terminated string of the payload, in order; bytes after the last
 * nul are not a string (so "a\0b" has one). The count is what C compares against.
 */
export function getStrings(payload: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      out.push(bin(payload, start, i));
      start = i + 1;
    }
  }
  return out;
}

/** C's onearg(): the payload is exactly one string with its nul at the very end, else null. */
export function onearg(payload: Uint8Array): string | null {
  if (payload.length === 0 || payload.indexOf(0) !== payload.length - 1) return null;
  return bin(payload, 0, payload.length - 1);
}

/** Number of nul bytes in the payload (C's xenstore_count_strings()). */
export function countNuls(payload: Uint8Array): number {
  let n = 0;
  for (const b of payload) if (b === 0) n++;
  return n;
}

const SPACE = " \t\n\v\f\r";

/** C's strtol/strtoul core: value and index just past the digits (0 when there were none, as C's endptr = nptr). */
export function cStrtol(s: string, base0: boolean): { value: bigint; end: number } {
  let i = 0;
  while (i < s.length && SPACE.includes(s[i])) i++;
  let neg = false;
  if (s[i] === "+" || s[i] === "-") { neg = s[i] === "-"; i++; }
  let base = 10;
  if (base0 && s[i] === "0") {
    if ((s[i + 1] === "x" || s[i + 1] === "X") && /[0-9a-fA-F]/.test(s[i + 2] ?? "")) { base = 16; i += 2; } else base = 8;
  }
  const start = i;
  let v = 0n;
  for (; i < s.length; i++) {
    const d = parseInt(s[i], 16);
    if (Number.isNaN(d) || d >= base) break;
    v = v * BigInt(base) + BigInt(d);
    if (v > 1n << 70n) v = 1n << 70n; // saturate; callers clamp
  }
  if (i === start) return { value: 0n, end: 0 };
  return { value: neg ? -v : v, end: i };
}

/** C's atoi() as xenstored uses it: leading decimal number or 0, as a 32-bit int. */
export function cAtoi(s: string): number {
  const { value } = cStrtol(s, false);
  const LONG_MAX = (1n << 63n) - 1n;
  const clamped = value > LONG_MAX ? LONG_MAX : value < -LONG_MAX - 1n ? -LONG_MAX - 1n : value;
  return Number(BigInt.asIntN(32, clamped));
}

/**
 * C xenstored's parse_domid(): strtoul base 10 that must consume the whole string and stay
 * within 0..65535; null means EINVAL. (strtoul of "" is 0 with nothing left over, so "" is dom0, as in C.)
 */
export function parseDomid(s: string): number | null {
  const { value, end } = cStrtol(s, false);
  if (end !== s.length && !(end === 0 && s.length === 0)) return null;
  if (value < 0n || value > 65535n) return null;
  return Number(value);
}
