// Node permissions as C xenstored keeps them (xenstore_lib.h, perm_for_conn()): entry 0 names the
// owner and the access everyone else gets by default; later entries grant one domain something else.
import { cStrtol } from "./wire.js";

/** Permission bits (xenstore_lib.h XS_PERM_*); IGNORE marks an entry for a domain that is gone. */
export const PERM = { NONE: 0, READ: 1, WRITE: 2, OWNER: 8, IGNORE: 16 } as const;

/** One permission entry as stored: a domid (unsigned 32 bits, as C's unsigned int) and PERM bits. */
export interface Perm { readonly id: number; readonly perms: number }

/** The letters of the wire form: n(one), r(ead), w(rite), b(oth). */
export type XsPermLetter = "n" | "r" | "w" | "b";

/** One permission entry in the toolstack API: `{ id: 1, perms: "r" }` is the wire string "r1". */
export interface XsPerm { id: number; perms: XsPermLetter }

const LETTER_BITS: Record<string, number> = { n: PERM.NONE, r: PERM.READ, w: PERM.WRITE, b: PERM.READ | PERM.WRITE };

/**
 * Parses one wire permission ("r1", "b0x10") as C's xenstore_strings_to_perms(): a letter, then a
 * strtol(.., 0) number that must use up the rest; null for anything else.
 */
export function parsePerm(s: string): Perm | null {
  const bits = LETTER_BITS[s[0] ?? ""];
  if (bits === undefined) return null;
  const rest = s.slice(1);
  const { value, end } = cStrtol(rest, true);
  if (rest.length === 0 || end !== rest.length) return null;
  const LONG_MAX = (1n << 63n) - 1n;
  const v = value > LONG_MAX ? LONG_MAX : value < -LONG_MAX - 1n ? -LONG_MAX - 1n : value;
  return { id: Number(BigInt.asUintN(32, v)), perms: bits };
}

/** Formats an entry as C's xenstore_perm_to_string() ("%i" of the id, IGNORE not shown). */
export function formatPerm(p: Perm): string {
  const bits = p.perms & (PERM.READ | PERM.WRITE);
  const letter = bits === (PERM.READ | PERM.WRITE) ? "b" : bits === PERM.READ ? "r" : bits === PERM.WRITE ? "w" : "n";
  return `${letter}${p.id | 0}`;
}

/** Converts a toolstack entry (object or wire string) into a stored entry; null when malformed. */
export function fromXsPerm(p: XsPerm | string): Perm | null {
  if (typeof p === "string") return parsePerm(p);
  const bits = LETTER_BITS[p.perms];
  if (bits === undefined || !Number.isInteger(p.id)) return null;
  return { id: p.id >>> 0, perms: bits };
}

/** Converts a stored entry to the toolstack form. */
export function toXsPerm(p: Perm): XsPerm {
  const s = formatPerm(p);
  return { id: p.id, perms: s[0] as XsPermLetter };
}

/** Who is asking: the connection's domid, whether it is privileged, and the domain it targets (SET_TARGET). */
export interface Asker { readonly domid: number; readonly priv: boolean; readonly target: number | undefined }

/**
 * The access `who` has to a node with `perms` (C's perm_for_conn()): privileged clients and the
 * owner (or whoever targets the owner) get everything; otherwise the first live entry naming them,
 * else the default in entry 0.
 */
export function permFor(who: Asker, perms: readonly Perm[]): number {
  const ALL = PERM.READ | PERM.WRITE | PERM.OWNER;
  if (who.priv || perms[0].id === who.domid || (who.target !== undefined && perms[0].id === who.target)) return ALL;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i];
    if (!(p.perms & PERM.IGNORE) && (p.id === who.domid || (who.target !== undefined && p.id === who.target))) return p.perms & ALL;
  }
  return perms[0].perms & ALL;
}
