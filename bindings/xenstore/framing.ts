// The xenstore wire framing shared by both transports: a 16-byte `struct xsd_sockmsg` header
// (type, req_id, tx_id, len; little-endian) followed by `len` payload bytes.
import { layout } from "../abi/layout.js";
import { PAYLOAD_MAX } from "./wire.js";
import type { XsMessage } from "./store.js";

const H = layout("struct xsd_sockmsg");
/** Header size (16). */
export const HEADER_SIZE = H.size;
export { PAYLOAD_MAX };

/** Encodes `msg` as header + payload. Throws if the payload is over PAYLOAD_MAX. */
export function encode(msg: XsMessage): Uint8Array {
  if (msg.payload.length > PAYLOAD_MAX) throw new Error(`xenstore reply of ${msg.payload.length} bytes exceeds ${PAYLOAD_MAX}`);
  const out = new Uint8Array(HEADER_SIZE + msg.payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(H.type, msg.type, true);
  v.setUint32(H.req_id, msg.reqId, true);
  v.setUint32(H.tx_id, msg.txId, true);
  v.setUint32(H.len, msg.payload.length, true);
  out.set(msg.payload, HEADER_SIZE);
  return out;
}

/**
 * Reassembles messages from a byte stream. Feed bytes as they arrive; complete messages come
 * out in order. A header announcing more than PAYLOAD_MAX bytes breaks the stream: the messages
 * completed before it still come out (C xenstored handles messages one at a time, so a valid
 * request ahead of a bad header is applied and answered), `error` says why, and nothing more
 * comes out after it (the transport then drops the peer).
 */
export class Deframer {
  private buf = new Uint8Array(0);
  /** Why the stream broke, or null while it is fine. */
  error: string | null = null;

  /** Adds `bytes` and returns the messages completed by them (none once `error` is set). */
  push(bytes: Uint8Array): XsMessage[] {
    if (this.error) return [];
    const joined = new Uint8Array(this.buf.length + bytes.length);
    joined.set(this.buf);
    joined.set(bytes, this.buf.length);
    this.buf = joined;
    const out: XsMessage[] = [];
    for (;;) {
      if (this.buf.length < HEADER_SIZE) break;
      const v = new DataView(this.buf.buffer, this.buf.byteOffset, HEADER_SIZE);
      const len = v.getUint32(H.len, true);
      if (len > PAYLOAD_MAX) {
        this.error = `message announces ${len} payload bytes (max ${PAYLOAD_MAX})`;
        this.buf = new Uint8Array(0);
        break;
      }
      if (this.buf.length < HEADER_SIZE + len) break;
      out.push({ type: v.getUint32(H.type, true), reqId: v.getUint32(H.req_id, true), txId: v.getUint32(H.tx_id, true), payload: this.buf.slice(HEADER_SIZE, HEADER_SIZE + len) });
      this.buf = this.buf.slice(HEADER_SIZE + len);
    }
    return out;
  }

  /** Bytes received but not yet part of a complete message. */
  get pending(): number { return this.buf.length; }
}
