// IPv4 and MAC addresses as text, and the IPv4 multicast to Ethernet mapping (RFC 1112 §6.4).
// Text conversion allocates strings: it is for command lines and messages, not for hot paths.
// Addresses are numbers: IPv4 a u32 in host order (10.0.0.1 = 0x0a000001), MAC a u64 with the
// first byte on the wire in bits 47..40 (00:16:3e:00:00:01 = 0x00163e000001).

/**
 * Parses dotted-quad `s` ("10.0.0.1", four decimal numbers 0..255, each one to three digits)
 * into a host-order address; returns -1 if `s` is anything else.
 */
export function ipParse(s: string): i64 {
  const n = s.length;
  let v: u32 = 0;
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s.charCodeAt(i) != 0x2E) return -1;
      i++;
    }
    let x: u32 = 0;
    const start = i;
    while (i < n && i - start < 4) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      x = x * 10 + <u32>(c - 0x30);
      i++;
    }
    if (i == start || i - start > 3 || x > 255) return -1;
    v = (v << 8) | x;
  }
  return i == n ? <i64>v : -1;
}

/** The dotted-quad text of host-order address `ip` (a new string). */
export function ipFormat(ip: u32): string {
  return (ip >> 24).toString() + "." + ((ip >> 16) & 0xFF).toString() + "." +
    ((ip >> 8) & 0xFF).toString() + "." + (ip & 0xFF).toString();
}

@inline function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * Parses `s` as six two-digit hexadecimal bytes separated by colons ("00:16:3e:00:00:01", either
 * case) into a 48-bit MAC; returns -1 if `s` is anything else.
 */
export function macParse(s: string): i64 {
  if (s.length != 17) return -1;
  let v: u64 = 0;
  for (let b = 0; b < 6; b++) {
    const i = b * 3;
    if (b > 0 && s.charCodeAt(i - 1) != 0x3A) return -1;
    const hi = hexDigit(s.charCodeAt(i)), lo = hexDigit(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return -1;
    v = (v << 8) | <u64>((hi << 4) | lo);
  }
  return <i64>v;
}

/** The text of 48-bit MAC `mac`, lower-case with colons ("00:16:3e:00:00:01"; a new string). */
export function macFormat(mac: u64): string {
  let s = "";
  for (let b = 5; b >= 0; b--) {
    const x = <u32>((mac >> (<u64>b << 3)) & 0xFF);
    s += (x < 16 ? "0" : "") + x.toString(16);
    if (b > 0) s += ":";
  }
  return s;
}

/**
 * The Ethernet address IPv4 multicast group `group` (host order, 224.0.0.0/4) is sent to:
 * 01:00:5e followed by the group's low 23 bits (RFC 1112 §6.4; 32 groups share each address).
 * A link driver subscribes to it (e.g. netfront's multicast control) when a stack joins `group`.
 */
export function multicastMac(group: u32): u64 {
  return 0x01005E000000 | <u64>(group & 0x7FFFFF);
}
