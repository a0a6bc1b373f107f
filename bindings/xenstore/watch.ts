// A watch for code in the harness (the host library, the trace, the dashboard): a privileged
// connection of its own on the store, with an XS_WATCH on one path, whose events become calls.
import { XS, type XenStore, type XsConnection, type XsMessage } from "./store.js";

/** Connection ids of in-harness watchers (above any transport's). */
let nextConn = 1_000_000;

/**
 * Calls `fn(path)` for every change at or below `path` of `store` (and once at once, as XS_WATCH
 * does), as dom0 would see it; returns the unwatch, which closes the watcher's connection.
 */
export function watchStore(store: XenStore, path: string, fn: (path: string) => void): () => void {
  const token = `host-${nextConn}`;
  const conn: XsConnection = {
    id: nextConn++, domid: 0, privileged: true,
    send: (msg: XsMessage) => {
      if (msg.type !== XS.WATCH_EVENT) return;
      const [p] = new TextDecoder().decode(msg.payload).split("\0");
      fn(p);
    },
  };
  store.connect(conn);
  const enc = (...parts: string[]) => new TextEncoder().encode(parts.map((p) => p + "\0").join(""));
  store.request(conn, { type: XS.WATCH, reqId: 1, txId: 0, payload: enc(path, token) });
  return () => store.disconnect(conn);
}
