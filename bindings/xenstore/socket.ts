// The xenstore Unix-socket transport: the wire protocol over a stream socket (mode 0600), as
// C xenstored offers dom0's tools (Debian's xenstore-utils with XENSTORED_PATH=PATH).
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { Deframer, FramingError, encode } from "./framing.js";
import type { XsConnection, XsMessage } from "./store.js";

/** One socket client: privileged, acting as domain 0. */
export class SocketConnection implements XsConnection {
  readonly domid = 0;
  readonly privileged = true;
  constructor(readonly id: number, private readonly socket: Socket) {}
  /** Writes `msg` to the client. */
  send(msg: XsMessage): void {
    if (!this.socket.destroyed) this.socket.write(encode(msg));
  }
}

/** Callbacks of the socket server into xenstored. */
export interface SocketHandlers {
  connect(c: SocketConnection): void;
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
    const conn = new SocketConnection(nextId(), socket);
    const deframer = new Deframer();
    h.connect(conn);
    socket.on("data", (chunk: Buffer) => {
      let msgs: XsMessage[];
      try {
        msgs = deframer.push(new Uint8Array(chunk));
      } catch (e) {
        if (!(e instanceof FramingError)) throw e;
        h.log(`xenstored: socket client ${conn.id}: ${e.message}; closing it`);
        socket.destroy();
        return;
      }
      for (const m of msgs) h.message(conn, m);
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
