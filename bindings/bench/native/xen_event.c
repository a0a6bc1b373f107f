/*
 * The second native reference of `xenwasm bench event` (docs/benchmarks.md): the hand-off of
 * examples/pingpong.ts with Xen's own event-channel protocol, natively. Two pthreads play two
 * one-vCPU domains; each has the memory a Xen guest shares with Xen (a shared_info page with
 * vcpu_info 0 and the 2-level bitmaps, or a FIFO event-array page and control block) and the
 * hypervisor's private state for it (the FIFO queue lock and tails). A send is Xen's
 * evtchn_2l_set_pending or evtchn_fifo_set_pending followed by vcpu_mark_events_pending, the
 * receiving vCPU polls evtchn_upcall_pending (the threaded runner's idle loop), and its upcall
 * is what Linux and the SDK's evtchnUpcall do: clear evtchn_upcall_pending, take the selector
 * or the ready queues, clear or unlink each event with an atomic operation, call the port's
 * handler through a table. The handlers are pingpong's: check the counter, write the next
 * value, send. So this is what the Xen protocol costs on this machine without the harness: the
 * cache lines it moves (2-level: the pending word and vcpu_info; FIFO: the event word, the
 * control block and vcpu_info; both: the counter) and the atomic operations on them.
 *
 *   xen_event --round-trips N --mode event|spin --abi 2l|fifo [--corrupt K]
 *
 * prints one line on stdout on success:
 *   round_trips=N ns=T notifies=K
 * and on failure one line on stderr (`xen_event: ...`) and exit status 1 (2 for bad arguments).
 *
 * event mode: an idle vCPU polls for 30 us, then flags itself sleeping, looks once more and
 * sleeps in FUTEX_WAIT on its wake word; a send wakes it only when the flag is up (the runner's
 * policy, bindings/runner/worker.ts). spin mode: nobody sleeps.
 */
#define PROG "xen_event"
#include "common.h"

#define PAGE 4096
#define NR_QUEUES 16
#define PRIORITY_DEFAULT 7
/* shared_info (public/xen.h, x86_64): vcpu_info[0] at 0, evtchn_pending at 2048, evtchn_mask at 2560. */
#define VI_UPCALL_PENDING 0
#define VI_PENDING_SEL 8
#define SI_PENDING 2048
#define SI_MASK 2560
/* public/event_channel.h's FIFO event word and control block. */
#define F_PENDING (1u << 31)
#define F_MASKED (1u << 30)
#define F_LINKED (1u << 29)
#define F_BUSY (1u << 28)
#define F_LINK_MASK ((1u << 17) - 1)
#define CB_READY 0
#define CB_HEAD 8

typedef void (*handler_t)(int dom, uint32_t port);

/* One domain: what it shares with Xen, Xen's private state for it, and the guest's own. */
struct dom {
    uint8_t shared_info[PAGE] __attribute__((aligned(PAGE)));
    uint32_t event_array[PAGE / 4] __attribute__((aligned(PAGE)));
    uint8_t control_page[PAGE] __attribute__((aligned(PAGE)));
    /* Xen's: the FIFO queue lock and tails (written by the senders only). */
    struct { int lock; uint32_t tails[NR_QUEUES]; } xen __attribute__((aligned(64)));
    /* The runner's: set while the vCPU sleeps, and the word it sleeps on. */
    int sleeping __attribute__((aligned(64)));
    int wake;
    /* The guest's: its queue heads, its port's handler and the peer its port is bound to. */
    uint32_t queue_heads[NR_QUEUES] __attribute__((aligned(64)));
    handler_t handlers[8];
    int peer;
    uint32_t peer_port;
    uint32_t steps;
    int done;
};

static struct {
    uint32_t n;
    int spin, fifo;
    int64_t corrupt_at;
    uint64_t t0, ns;
    uint32_t counter __attribute__((aligned(64)));
    uint64_t notifies __attribute__((aligned(64)));
} S;
static struct dom D[2];

#define U8(d, off) ((uint8_t *)((d)->shared_info + (off)))
#define U64(d, off) ((uint64_t *)((d)->shared_info + (off)))

/* Xen's vcpu_mark_events_pending, then the runner's wake-up of a sleeping vCPU. */
static void mark_events_pending(struct dom *d) {
    __atomic_store_n(U8(d, VI_UPCALL_PENDING), 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&d->sleeping, __ATOMIC_SEQ_CST)) {
        __atomic_fetch_add(&d->wake, 1, __ATOMIC_SEQ_CST);
        futex(&d->wake, FUTEX_WAKE_PRIVATE, 1);
    }
}

/* Xen's evtchn_2l_set_pending. */
static void set_pending_2l(struct dom *d, uint32_t port) {
    uint64_t bit = 1ull << (port & 63);
    if (__atomic_fetch_or(U64(d, SI_PENDING) + (port >> 6), bit, __ATOMIC_SEQ_CST) & bit) return;
    if (__atomic_load_n(U64(d, SI_MASK) + (port >> 6), __ATOMIC_SEQ_CST) & bit) return;
    __atomic_fetch_or(U64(d, VI_PENDING_SEL), 1ull << (port >> 6), __ATOMIC_SEQ_CST);
    mark_events_pending(d);
}

/* Xen's evtchn_fifo_set_link: LINK of the word `w` to `link` while it is still LINKED. */
static int set_link(uint32_t *w, uint32_t link) {
    uint32_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
    for (;;) {
        if (!(old & F_LINKED)) return 0;
        if (__atomic_compare_exchange_n(w, &old, (old & ~(F_BUSY | F_LINK_MASK)) | link, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return 1;
    }
}

/* Xen's evtchn_fifo_set_pending (the same steps as bindings/hypervisor/evtchn_fifo.ts). */
static void set_pending_fifo(struct dom *d, uint32_t port) {
    uint32_t *w = &d->event_array[port];
    int ready = 0;
    while (__atomic_exchange_n(&d->xen.lock, 1, __ATOMIC_ACQUIRE)) { /* spin */ }
    uint32_t old = 0, want;
    int link;
    for (;;) {
        link = !(old & (F_MASKED | F_LINKED));
        want = link ? ((old | F_PENDING | F_LINKED) & ~F_LINK_MASK) : (old | F_PENDING);
        if (want == old || __atomic_compare_exchange_n(w, &old, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) break;
    }
    if (link) {
        uint32_t q = PRIORITY_DEFAULT, tail = d->xen.tails[q];
        if (tail == port) tail = 0; /* the guest consumed it: the queue is empty */
        if (!(tail && set_link(&d->event_array[tail], port))) {
            __atomic_store_n((uint32_t *)(d->control_page + CB_HEAD) + q, port, __ATOMIC_RELAXED);
            ready = 1;
        }
        d->xen.tails[q] = port;
    }
    __atomic_store_n(&d->xen.lock, 0, __ATOMIC_RELEASE);
    if (ready && !(__atomic_fetch_or((uint32_t *)(d->control_page + CB_READY), 1u << PRIORITY_DEFAULT, __ATOMIC_SEQ_CST) & (1u << PRIORITY_DEFAULT)))
        mark_events_pending(d);
}

/* EVTCHNOP_send on domain `from`'s port: the peer's end is raised. */
static void send(int from) {
    struct dom *r = &D[D[from].peer];
    __atomic_fetch_add(&S.notifies, 1, __ATOMIC_RELAXED);
    if (S.fifo) set_pending_fifo(r, D[from].peer_port);
    else set_pending_2l(r, D[from].peer_port);
}

/* The guest's dispatch: the port's handler from its table. */
static void dispatch(int dom, uint32_t port) { D[dom].handlers[port](dom, port); }

/* The guest's 2-level upcall (Linux's evtchn_2l_handle_events, the SDK's twoLevelHandleEvents). */
static void handle_2l(int dom) {
    struct dom *d = &D[dom];
    uint64_t sel = __atomic_exchange_n(U64(d, VI_PENDING_SEL), 0, __ATOMIC_SEQ_CST);
    while (sel) {
        uint32_t i = (uint32_t)__builtin_ctzll(sel);
        sel &= sel - 1;
        uint64_t bits = __atomic_load_n(U64(d, SI_PENDING) + i, __ATOMIC_SEQ_CST) & ~__atomic_load_n(U64(d, SI_MASK) + i, __ATOMIC_SEQ_CST);
        while (bits) {
            uint64_t bit = bits & -bits;
            bits &= bits - 1;
            if (__atomic_fetch_and(U64(d, SI_PENDING) + i, ~bit, __ATOMIC_SEQ_CST) & bit) dispatch(dom, i * 64 + (uint32_t)__builtin_ctzll(bit));
        }
    }
}

/* The guest's FIFO upcall (Linux's __evtchn_fifo_handle_events, the SDK's fifoHandleEvents). */
static void handle_fifo(int dom) {
    struct dom *d = &D[dom];
    uint32_t *ready_w = (uint32_t *)(d->control_page + CB_READY);
    uint32_t ready = __atomic_exchange_n(ready_w, 0, __ATOMIC_SEQ_CST);
    while (ready) {
        uint32_t q = (uint32_t)__builtin_ctz(ready);
        uint32_t port = d->queue_heads[q];
        if (!port) port = __atomic_load_n((uint32_t *)(d->control_page + CB_HEAD) + q, __ATOMIC_SEQ_CST);
        uint32_t *w = &d->event_array[port];
        uint32_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
        int take;
        for (;;) {
            take = (old & (F_PENDING | F_MASKED)) == F_PENDING;
            uint32_t clear = F_LINKED | F_LINK_MASK | (take ? F_PENDING : 0);
            if (__atomic_compare_exchange_n(w, &old, old & ~clear, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) break;
        }
        uint32_t next = old & F_LINK_MASK;
        if (!next) ready &= ~(1u << q);
        d->queue_heads[q] = next;
        if (take) dispatch(dom, port);
        if (__atomic_load_n(ready_w, __ATOMIC_SEQ_CST)) ready |= __atomic_exchange_n(ready_w, 0, __ATOMIC_SEQ_CST);
    }
}

/* The upcall: repeats while evtchn_upcall_pending was raised again. */
static void upcall(int dom) {
    uint8_t *up = U8(&D[dom], VI_UPCALL_PENDING);
    while (__atomic_load_n(up, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(up, 0, __ATOMIC_SEQ_CST);
        if (S.fifo) handle_fifo(dom);
        else handle_2l(dom);
    }
}

/* ping's handler: pong answered (the counter is even). */
static void ping_event(int dom, uint32_t port) {
    (void)port;
    struct dom *d = &D[dom];
    uint32_t v = __atomic_load_n(&S.counter, __ATOMIC_ACQUIRE);
    if (v != 2 * d->steps) die("ping: expected %u, got %u", 2 * d->steps, v);
    if (d->steps == S.n) { S.ns = now_ns() - S.t0; d->done = 1; return; }
    __atomic_store_n(&S.counter, v + 1, __ATOMIC_RELEASE);
    d->steps++;
    send(dom);
}

/* pong's handler: ping wrote the next odd value. */
static void pong_event(int dom, uint32_t port) {
    (void)port;
    struct dom *d = &D[dom];
    uint32_t v = __atomic_load_n(&S.counter, __ATOMIC_ACQUIRE);
    if (v != 2 * d->steps + 1) die("pong: expected %u, got %u", 2 * d->steps + 1, v);
    uint32_t next = (int64_t)d->steps == S.corrupt_at ? v + 7 : v + 1;
    __atomic_store_n(&S.counter, next, __ATOMIC_RELEASE);
    if (++d->steps == S.n) d->done = 1;
    send(dom);
}

/* One vCPU: upcalls while events come, polling evtchn_upcall_pending when idle (30 us, then sleep). */
static void *vcpu(void *arg) {
    int dom = (int)(intptr_t)arg;
    struct dom *d = &D[dom];
    uint8_t *up = U8(d, VI_UPCALL_PENDING);
    while (!d->done) {
        if (__atomic_load_n(up, __ATOMIC_SEQ_CST)) { upcall(dom); continue; }
        int w = __atomic_load_n(&d->wake, __ATOMIC_SEQ_CST);
        if (S.spin) continue;
        uint64_t until = now_ns() + SPIN_BEFORE_WAIT_NS;
        while (!__atomic_load_n(up, __ATOMIC_SEQ_CST) && now_ns() < until) { /* poll */ }
        if (__atomic_load_n(up, __ATOMIC_SEQ_CST)) continue;
        __atomic_store_n(&d->sleeping, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(up, __ATOMIC_SEQ_CST)) futex(&d->wake, FUTEX_WAIT_PRIVATE, w);
        __atomic_store_n(&d->sleeping, 0, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

int main(int argc, char **argv) {
    S.corrupt_at = -1;
    int mode = -1, abi = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--round-trips") && i + 1 < argc) S.n = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) { i++; mode = !strcmp(argv[i], "spin") ? 1 : !strcmp(argv[i], "event") ? 0 : -1; }
        else if (!strcmp(argv[i], "--abi") && i + 1 < argc) { i++; abi = !strcmp(argv[i], "fifo") ? 1 : !strcmp(argv[i], "2l") ? 0 : -1; }
        else if (!strcmp(argv[i], "--corrupt") && i + 1 < argc) S.corrupt_at = strtoll(argv[++i], NULL, 10);
        else mode = -2;
    }
    if (S.n == 0 || S.n > 0x3fffffffu || mode < 0 || abi < 0) {
        fputs("xen_event: usage: xen_event --round-trips N (1..2^30-1) --mode event|spin --abi 2l|fifo [--corrupt K]\n", stderr);
        return 2;
    }
    S.spin = mode;
    S.fifo = abi;
    /* ping is domain 0, port 3 (as pingpong's); pong is domain 1, port 1; each bound to the other. */
    D[0].peer = 1; D[0].peer_port = 1; D[0].handlers[3] = ping_event;
    D[1].peer = 0; D[1].peer_port = 3; D[1].handlers[1] = pong_event;
    pthread_t t;
    if (pthread_create(&t, NULL, vcpu, (void *)(intptr_t)1)) die("pthread_create failed");
    /* ping writes 1 and sends, then answers in its handler until the counter reaches 2N. */
    S.t0 = now_ns();
    __atomic_store_n(&S.counter, 1, __ATOMIC_RELEASE);
    D[0].steps = 1;
    send(0);
    vcpu((void *)(intptr_t)0);
    pthread_join(t, NULL);
    printf("round_trips=%u ns=%llu notifies=%llu\n", S.n, (unsigned long long)S.ns, (unsigned long long)S.notifies);
    return 0;
}
