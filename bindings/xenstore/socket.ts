// The xenstore Unix-socket transport: the wire protocol over a stream socket (mode 0600), as
// C xenstored offers dom0's tools (Debian's xenstore-utils with XENSTORED_PATH=PATH).
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { Deframer, encode } from "./framing.js";
import type { XsConnection, XsMessage } from "./store.js";
import { k } from "../abi/layout.js";

/**
 * Output a client may leave unread before xenstored stops handling and reading its requests (C
 * xenstored stops reading a connection whose output queue is not empty): dom0 is exempt from the
 * quotas, so this bounds what a client that never reads costs the harness.
 */
export const SOCKET_OUTPUT_MAX = 256 * 1024;
const XS_WATCH_EVENT = k("XS_WATCH_EVENT");

/** One socket client: privileged, acting as domain 0. */
export class SocketConnection implements XsConnection {
  readonly domid = 0;
  readonly privileged = true;
  /** `delivered` is told each time a reply has been handed to the kernel (XenStore.replyDelivered). */
  constructor(readonly id: number, private readonly socket: Socket, private readonly delivered: (c: SocketConnection) => void = () => {}) {}
  /** Writes `msg` to the client. */
  send(msg: XsMessage): void {
    if (this.socket.destroyed) return;
    const reply = msg.type !== XS_WATCH_EVENT;
    this.socket.write(encode(msg), () => { if (reply) this.delivered(this); });
  }
}

/** Callbacks of the socket server into xenstored. */
export interface SocketHandlers {
  connect(c: SocketConnection): void;
  /** A reply to `c` was handed to the kernel. */
  delivered(c: SocketConnection): void;
  message(c: SocketConnection, m: XsMessage): void;
  disconnect(c: SocketConnection): void;
  log(line: string): void;
}

/** Listens on `path` (replacing a stale socket there) and serves clients until closed. */
export async function listenXenstoreSocket(path: string, nextId: () => number, h: SocketHandlers): Promise<Server> {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
    unlinkSync(path);
  }
  const server = createServer((socket) => {
    const conn = new SocketConnection(nextId(), socket, (c) => h.delivered(c));
    const deframer = new Deframer();
    h.connect(conn);
    // Requests wait here while the client's unread output is over SOCKET_OUTPUT_MAX: xenstored
    // then stops reading the socket and handles the rest once the output drained.
    const queue: XsMessage[] = [];
    let waiting = false, closing = false;
    const pump = (): void => {
      while (queue.length && !socket.destroyed) {
        if (socket.writableLength > SOCKET_OUTPUT_MAX) {
          if (!waiting) {
            waiting = true;
            socket.pause();
            socket.once("drain", () => { waiting = false; pump(); if (!waiting && !closing) socket.resume(); });
          }
          return;
        }
        h.message(conn, queue.shift()!);
      }
      // Requests ahead of a broken header are handled and answered first, as C xenstored does;
      // then the client is dropped (destroySoon: its replies are flushed before the socket closes).
      if (deframer.error && !closing) {
        closing = true;
        h.log(`xenstored: socket client ${conn.id}: ${deframer.error}; closing it`);
        socket.destroySoon();
      }
    };
    socket.on("data", (chunk: Buffer) => {
      if (deframer.error) return;
      queue.push(...deframer.push(new Uint8Array(chunk)));
      pump();
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => h.disconnect(conn));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // bind(2) creates the socket file with the umask's mode: 0600 from the start, so that no
    // client ever sees (or connects through) a wider mode before the chmod below.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => { server.off("error", reject); resolve(); });
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(path, 0o600);
  return server;
}
