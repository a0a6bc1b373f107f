// Option-value parsing the benchmark commands share: each failure is one UsageError line
// prefixed with the command ("bench ring: --qd must be ...").
import { UsageError } from "./errors.js";

/** Parsers of option values for command `cmd`; each throws UsageError with one line. */
export function optionParsers(cmd: string) {
  const fail = (msg: string): never => { throw new UsageError(`${cmd}: ${msg}`); };
  /** A whole number in [min, max]. */
  const number = (opt: string, v: string, min: number, max: number): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(`${opt} must be a whole number from ${min} to ${max}, not '${v}'`);
    return Number(v);
  };
  /** A comma-separated list of whole numbers in [min, max]. */
  const numbers = (opt: string, v: string, min: number, max: number): number[] => v.split(",").map((s) => {
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) fail(`${opt} must be a whole number from ${min} to ${max}${v.includes(",") ? " (in a comma-separated list)" : ""}, not '${s}'`);
    return Number(s);
  });
  /** A comma-separated list of words out of `allowed`. */
  const words = <T extends string>(opt: string, v: string, allowed: readonly T[]): T[] => v.split(",").map((s) => {
    if (!(allowed as readonly string[]).includes(s)) fail(`${opt} must be ${allowed.map((a) => `'${a}'`).join(" or ")}, not '${s}'`);
    return s as T;
  });
  return { fail, number, numbers, words };
}
