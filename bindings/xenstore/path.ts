// Xenstore path rules (docs/misc/xenstore.txt, C xenstored's canonicalize()/get_parent()/is_child()):
// pure functions over path strings, no store state.
import { ABS_PATH_MAX } from "./wire.js";

const VALID = /^[A-Za-z0-9\-/_@]*$/;

/** True when every char is one C's valid_chars() allows (alphanumerics and -/_@; "" passes, as in C). */
export function validChars(name: string): boolean {
  return VALID.test(name);
}

/** The home of domain `domid`, where its relative paths live ("/local/domain/<domid>"). */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/**
 * C's sscanf("/local/domain/%5u/%n"): the length of a leading "/local/domain/<n>/" (n at most five
 * chars), which the path-length quota does not count; 0 when the path has no such prefix.
 */
export function localOffset(name: string): number {
  const m = /^\/local\/domain\/(-?\d+)\//.exec(name);
  return m && m[1].length <= 5 ? m[0].length : 0;
}

/** Why a full path is malformed (trailing or double slash, too long), or null when it is well formed. */
export function shapeError(name: string): string | null {
  if (name.endsWith("/") && name !== "/") return "trailing slash";
  if (name.includes("//")) return "double slash";
  if (name.length > ABS_PATH_MAX) return "longer than XENSTORE_ABS_PATH_MAX";
  return null;
}

/** The parent of a node ("/" for top-level nodes and for the "@..." special nodes, as C's get_parent()). */
export function parentOf(name: string): string {
  const slash = name.lastIndexOf("/");
  return slash > 0 ? name.slice(0, slash) : "/";
}

/** The last component of a path other than "/". */
export function baseName(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

/** The full path of child `leaf` of `parent`. */
export function childPath(parent: string, leaf: string): string {
  return parent === "/" ? `/${leaf}` : `${parent}/${leaf}`;
}

/** True when `child` is `parent` or below it; everything is below "/" (C's is_child()). */
export function isChild(child: string, parent: string): boolean {
  if (parent === "/") return true;
  if (!child.startsWith(parent)) return false;
  return child.length === parent.length || child[parent.length] === "/";
}
