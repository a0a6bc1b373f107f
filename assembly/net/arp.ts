// The ARP table of one stack (RFC 826): the neighbour cache and the packets waiting for an
// address. Pure state: no frames are sent and no clock is read here; the stack (stack.ts) passes
// the time in, sends requests and replies, and drives the retries from its timer.
//
// Cache: ARP_CACHE_SIZE entries, each free, incomplete (requests outstanding: `tries` sent so
// far, `deadline` = when the next one, or the give-up, is due), reachable (`mac` valid until
// `deadline`) or permanent (added by hand, never expires). A full cache reuses an expired
// entry, else the reachable one closest to expiring; incomplete and permanent entries are never
// evicted.
//
// Pending packets: whole frames (destination MAC still blank) waiting for an incomplete entry,
// at most ARP_QUEUE_LEN per destination (Linux drops the oldest too). They are copied into one
// pool of ARP_POOL_BYTES allocated with the table, packed in arrival order; removing one moves
// the later ones down (only on ARP events, never per received frame). When the pool or the
// record table is full, the oldest packets go first, whatever their destination.
//
// Ownership: the table and its pool belong to one NetStack for the life of the domain.

/** Entries of the neighbour cache. */
export const ARP_CACHE_SIZE: i32 = 16;
/** The most packets queued per unresolved destination (Linux's historical unres_qlen). */
export const ARP_QUEUE_LEN: i32 = 3;
/** The most packets pending over all destinations. */
export const ARP_PENDING_MAX: i32 = 16;
/** Bytes of the pending-packet pool: two largest frames, or many small ones. */
export const ARP_POOL_BYTES: u32 = 2 * 65536;

/** Entry states. */
export const ARP_FREE: u8 = 0;
export const ARP_INCOMPLETE: u8 = 1;
export const ARP_REACHABLE: u8 = 2;
export const ARP_PERMANENT: u8 = 3;

/** A neighbour cache and its pending packets (see the file header). */
export class ArpTable {
  /** Per entry: the IPv4 address (host order), the MAC, the state, the deadline, requests sent. */
  readonly ip: StaticArray<u32> = new StaticArray<u32>(ARP_CACHE_SIZE);
  readonly mac: StaticArray<u64> = new StaticArray<u64>(ARP_CACHE_SIZE);
  readonly state: StaticArray<u8> = new StaticArray<u8>(ARP_CACHE_SIZE);
  readonly deadline: StaticArray<u64> = new StaticArray<u64>(ARP_CACHE_SIZE);
  readonly tries: StaticArray<u32> = new StaticArray<u32>(ARP_CACHE_SIZE);

  // Pending packets, in arrival order, their bytes packed in the same order in `pool`.
  private pkIp: StaticArray<u32> = new StaticArray<u32>(ARP_PENDING_MAX);
  private pkOff: StaticArray<u32> = new StaticArray<u32>(ARP_PENDING_MAX);
  private pkLen: StaticArray<u32> = new StaticArray<u32>(ARP_PENDING_MAX);
  private pkFlags: StaticArray<u32> = new StaticArray<u32>(ARP_PENDING_MAX);
  /** How many packets are pending. */
  pendingCount: i32 = 0;
  private poolUsed: u32 = 0;
  private pool: usize = heap.alloc(ARP_POOL_BYTES);

  /** The entry for `ip` in any state but free, or -1. */
  find(ip: u32): i32 {
    for (let i = 0; i < ARP_CACHE_SIZE; i++) {
      if (unchecked(this.state[i]) != ARP_FREE && unchecked(this.ip[i]) == ip) return i;
    }
    return -1;
  }

  /** The MAC of `ip` if its entry is permanent or reachable and not expired at time `t`, else -1. */
  lookup(ip: u32, t: u64): i64 {
    const i = this.find(ip);
    if (i < 0) return -1;
    const s = unchecked(this.state[i]);
    if (s == ARP_PERMANENT || (s == ARP_REACHABLE && t < unchecked(this.deadline[i]))) return <i64>unchecked(this.mac[i]);
    return -1;
  }

  /**
   * Records that `ip` is at `mac` as of time `t`, valid for `timeoutNs`: updates its entry, or
   * creates one if `create` (evicting as the file header says). A permanent entry is left alone.
   * Returns the entry, or -1 if there was none and none was created.
   */
  update(ip: u32, mac: u64, t: u64, timeoutNs: u64, create: bool): i32 {
    let i = this.find(ip);
    if (i < 0) {
      if (!create) return -1;
      i = this.allocate(ip, t);
      if (i < 0) return -1;
    }
    if (unchecked(this.state[i]) == ARP_PERMANENT) return i;
    unchecked(this.mac[i] = mac);
    unchecked(this.state[i] = ARP_REACHABLE);
    unchecked(this.deadline[i] = t + timeoutNs);
    unchecked(this.tries[i] = 0);
    return i;
  }

  /** Adds (or replaces) a permanent entry `ip` -> `mac`; returns it, or -1 if the cache has no room. */
  addPermanent(ip: u32, mac: u64, t: u64): i32 {
    let i = this.find(ip);
    if (i < 0) i = this.allocate(ip, t);
    if (i < 0) return -1;
    unchecked(this.mac[i] = mac);
    unchecked(this.state[i] = ARP_PERMANENT);
    return i;
  }

  /**
   * The incomplete entry for `ip`, made so if it was absent or expired (tries 0: the caller sends
   * the first request and sets the deadline); -1 if the cache has no room.
   */
  startResolve(ip: u32, t: u64): i32 {
    let i = this.find(ip);
    if (i < 0) i = this.allocate(ip, t);
    if (i < 0) return -1;
    if (unchecked(this.state[i]) != ARP_INCOMPLETE) {
      unchecked(this.state[i] = ARP_INCOMPLETE);
      unchecked(this.tries[i] = 0);
      unchecked(this.deadline[i] = t);
    }
    return i;
  }

  /** Frees entry `i` (its pending packets, if any, stay: dropPending them first). */
  remove(i: i32): void {
    unchecked(this.state[i] = ARP_FREE);
  }

  /** Takes a free entry, else an expired one, else the reachable one closest to expiry; sets its ip. */
  private allocate(ip: u32, t: u64): i32 {
    let best = -1;
    let bestDeadline = u64.MAX_VALUE;
    for (let i = 0; i < ARP_CACHE_SIZE; i++) {
      const s = unchecked(this.state[i]);
      if (s == ARP_FREE) { best = i; break; }
      if (s == ARP_REACHABLE) {
        const d = unchecked(this.deadline[i]);
        const key = d <= t ? 0 : d; // expired entries first
        if (key < bestDeadline) { bestDeadline = key; best = i; }
      }
    }
    if (best >= 0) {
      unchecked(this.ip[best] = ip);
      unchecked(this.state[best] = ARP_FREE);
      unchecked(this.tries[best] = 0);
    }
    return best;
  }

  // -------------------------------------------------------------------------------------------
  // Pending packets

  /** How many packets wait for `ip`. */
  pendingFor(ip: u32): i32 {
    let n = 0;
    for (let i = 0; i < this.pendingCount; i++) if (unchecked(this.pkIp[i]) == ip) n++;
    return n;
  }

  /** The first (oldest) pending packet for `ip` at or after record `from`, or -1. */
  nextPending(ip: u32, from: i32 = 0): i32 {
    for (let i = from; i < this.pendingCount; i++) if (unchecked(this.pkIp[i]) == ip) return i;
    return -1;
  }

  /** Where pending packet `i`'s frame is (valid until the next change to the pending set). */
  pendingAddr(i: i32): usize { return this.pool + <usize>unchecked(this.pkOff[i]); }
  /** Pending packet `i`'s length in bytes. */
  pendingLen(i: i32): u32 { return unchecked(this.pkLen[i]); }
  /** Pending packet `i`'s link transmit flags. */
  pendingFlags(i: i32): u32 { return unchecked(this.pkFlags[i]); }

  /**
   * Copies the `len`-byte frame at the caller's `src` (at most ARP_POOL_BYTES) into the pool,
   * waiting for `ip`, with link flags `flags`. Makes room by dropping the oldest packet for `ip`
   * beyond ARP_QUEUE_LEN, then the oldest of all while the pool or the record table is full.
   * Returns how many earlier packets were dropped.
   */
  enqueue(ip: u32, src: usize, len: u32, flags: u32): i32 {
    let dropped = 0;
    if (this.pendingFor(ip) >= ARP_QUEUE_LEN) {
      this.removePending(this.nextPending(ip));
      dropped++;
    }
    while (this.pendingCount > 0 && (this.pendingCount == ARP_PENDING_MAX || this.poolUsed + len > ARP_POOL_BYTES)) {
      this.removePending(0);
      dropped++;
    }
    const k = this.pendingCount++;
    unchecked(this.pkIp[k] = ip);
    unchecked(this.pkOff[k] = this.poolUsed);
    unchecked(this.pkLen[k] = len);
    unchecked(this.pkFlags[k] = flags);
    memory.copy(this.pool + <usize>this.poolUsed, src, <usize>len);
    this.poolUsed += len;
    return dropped;
  }

  /** Removes pending packet `i`, moving the later packets' bytes down over it. */
  removePending(i: i32): void {
    const off = unchecked(this.pkOff[i]);
    const len = unchecked(this.pkLen[i]);
    const tail = off + len;
    if (tail < this.poolUsed) memory.copy(this.pool + <usize>off, this.pool + <usize>tail, <usize>(this.poolUsed - tail));
    this.poolUsed -= len;
    for (let j = i + 1; j < this.pendingCount; j++) {
      unchecked(this.pkIp[j - 1] = this.pkIp[j]);
      unchecked(this.pkOff[j - 1] = this.pkOff[j] - len);
      unchecked(this.pkLen[j - 1] = this.pkLen[j]);
      unchecked(this.pkFlags[j - 1] = this.pkFlags[j]);
    }
    this.pendingCount--;
  }

  /** Drops every packet waiting for `ip`; returns how many. */
  dropPending(ip: u32): i32 {
    let n = 0;
    let i = this.nextPending(ip);
    while (i >= 0) {
      this.removePending(i);
      n++;
      i = this.nextPending(ip, i);
    }
    return n;
  }
}
