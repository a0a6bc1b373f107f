// The small IPv4 stack (stack.ts) and its pieces, for `import { ... } from "xenwasm/assembly/net"`:
// wire formats, address text, checksums (also what dom0's switch uses to fill blank checksums),
// the ARP table.
export * from "./wire";
export * from "./addr";
export * from "./checksum";
export * from "./arp";
export * from "./stack";
