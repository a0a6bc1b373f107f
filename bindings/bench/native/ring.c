/*
 * The native C reference of `xenwasm bench ring` (docs/benchmarks.md): the workload of
 * examples/ringbench.ts with a shared ring of xen/include/public/io/ring.h's layout and
 * semantics, between two pthreads of one process instead of two domains.
 *
 *   ring --slot 112 --pages 1 --qd 32 --requests 100000 --mode poll|event [--corrupt K]
 *
 * prints one line on stdout on success:
 *   requests=N ns=T notifies_front=F notifies_back=B ring_size=S
 * and on failure one line on stderr (`ring: ...`) and exit status 1 (2 for bad arguments).
 *
 * The ring: a 64-byte sring header (req_prod, req_event, rsp_prod, rsp_event, pvt, pad), then
 * RING_SIZE slots of `slot` bytes, RING_SIZE = __RD32((pages * 4096 - 64) / slot), over
 * `pages` contiguous 4 KiB pages (Xen's multi-page rings are contiguous for the granter). The
 * macros below are ring.h's, written for a slot size chosen at run time (ring.h fixes it at
 * compile time through the request/response union); the barriers are ring.h's xen_mb/rmb/wmb.
 *
 * The workload (the same as the guest's): request id (u64, 0, 1, 2, ...) then (slot - 8) / 8 u64
 * words payload(id, i); the back copies each request out (RING_COPY_REQUEST), checks the id
 * sequence, answers id ^ ID_FLIP and every word xor mask(id) in the next response slot; the front
 * checks every response. Each side works in rounds, as the guest's frontStep/backStep: copy out
 * every ready slot (one memcpy per run up to the ring's wrap, as assembly/ring.ts's consumeBatch),
 * handle them, copy the answers or new requests in (produceBatch), push. The time runs from the
 * back's "ready" to the last verified response, as in the guest. An "event channel" per side is a pending word: notify = set it and, if
 * it was clear, FUTEX_WAKE (as Xen's EVTCHNOP_send sets the pending bit and kicks the vCPU only
 * when newly set); wait = exchange it with 0, poll it for 30 us (as the threaded runner's idle vCPU), then
 * FUTEX_WAIT while it was 0. Notifications are counted
 * per side (sends that the ring's push-and-check-notify asked for). Poll mode spins on the indices
 * and never notifies.
 */
#define PROG "ring"
#include "common.h"

/* struct name_sring without its ring[] (the slot size is a run-time value here). */
struct sring {
    RING_IDX req_prod, req_event;
    RING_IDX rsp_prod, rsp_event;
    union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user; uint8_t pvt_pad[4]; } pvt;
    uint8_t __pad[44];
};
_Static_assert(sizeof(struct sring) == 64, "sring header is 64 bytes");

struct front_ring { RING_IDX req_prod_pvt, rsp_cons; unsigned int nr_ents; struct sring *sring; unsigned int slot; };
struct back_ring { RING_IDX rsp_prod_pvt, req_cons; unsigned int nr_ents; struct sring *sring; unsigned int slot; };

/* __RD32: round down to a power of two. */
static unsigned int rd32(unsigned int x) { unsigned int p = 1; while (p * 2 <= x && p * 2 != 0) p *= 2; return x ? p : 0; }
#define RING_SIZE(r) ((r)->nr_ents)
#define RING_SLOT(r, idx) ((uint8_t *)((r)->sring + 1) + (size_t)((idx) & (RING_SIZE(r) - 1)) * (r)->slot)
#define SHARED_RING_INIT(s) do { (s)->req_prod = (s)->rsp_prod = 0; (s)->req_event = (s)->rsp_event = 1; memset(&(s)->pvt, 0, sizeof((s)->pvt)); memset((s)->__pad, 0, sizeof((s)->__pad)); } while (0)
#define RING_FREE_REQUESTS(r) (RING_SIZE(r) - ((r)->req_prod_pvt - (r)->rsp_cons))
#define RING_HAS_UNCONSUMED_RESPONSES(r) (READ_IDX((r)->sring->rsp_prod) - (r)->rsp_cons)
#define RING_HAS_UNCONSUMED_REQUESTS(r) ({ \
    unsigned int req = READ_IDX((r)->sring->req_prod) - (r)->req_cons; \
    unsigned int rsp = RING_SIZE(r) - ((r)->req_cons - (r)->rsp_prod_pvt); \
    req < rsp ? req : rsp; })
#define RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(r, notify) do { \
    RING_IDX __old = (r)->sring->req_prod; RING_IDX __new = (r)->req_prod_pvt; \
    xen_wmb(); WRITE_IDX((r)->sring->req_prod, __new); xen_mb(); \
    (notify) = ((RING_IDX)(__new - READ_IDX((r)->sring->req_event)) < (RING_IDX)(__new - __old)); } while (0)
#define RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify) do { \
    RING_IDX __old = (r)->sring->rsp_prod; RING_IDX __new = (r)->rsp_prod_pvt; \
    xen_wmb(); WRITE_IDX((r)->sring->rsp_prod, __new); xen_mb(); \
    (notify) = ((RING_IDX)(__new - READ_IDX((r)->sring->rsp_event)) < (RING_IDX)(__new - __old)); } while (0)
#define RING_PUSH_REQUESTS(r) do { xen_wmb(); WRITE_IDX((r)->sring->req_prod, (r)->req_prod_pvt); } while (0)
#define RING_PUSH_RESPONSES(r) do { xen_wmb(); WRITE_IDX((r)->sring->rsp_prod, (r)->rsp_prod_pvt); } while (0)
#define RING_FINAL_CHECK_FOR_REQUESTS(r, work) do { \
    (work) = RING_HAS_UNCONSUMED_REQUESTS(r); if (work) break; \
    WRITE_IDX((r)->sring->req_event, (r)->req_cons + 1); xen_mb(); \
    (work) = RING_HAS_UNCONSUMED_REQUESTS(r); } while (0)
#define RING_FINAL_CHECK_FOR_RESPONSES(r, work) do { \
    (work) = RING_HAS_UNCONSUMED_RESPONSES(r); if (work) break; \
    WRITE_IDX((r)->sring->rsp_event, (r)->rsp_cons + 1); xen_mb(); \
    (work) = RING_HAS_UNCONSUMED_RESPONSES(r); } while (0)

/* The workload, as in examples/ringbench.ts. */
#define ID_FLIP 0xFFFFFFFF00000000ull
#define PAY_MUL 0x9E3779B97F4A7C15ull
#define PAY_STEP 0xBF58476D1CE4E5B9ull
static inline uint64_t payload(uint64_t id, uint32_t i) { return (id + 1) * PAY_MUL + (uint64_t)i * PAY_STEP; }
static inline uint64_t mask(uint64_t id) { return (id ^ 0xA5A5A5A5A5A5A5A5ull) * 0x94D049BB133111EBull; }

/* One side's event channel: a pending word the peer sets, and the side's notification count. */
struct channel { int pending; uint64_t notifies; };

static struct {
    unsigned int slot, pages, qd, words, poll;
    uint32_t n;
    int64_t corrupt_at;
    struct sring *sring;
    struct channel front, back;
} B;

/* EVTCHNOP_send from `from` to `to`: set pending; wake `to` if it was not pending yet. */
static void notify(struct channel *from, struct channel *to) {
    from->notifies++;
    kick(&to->pending);
}

/* Sleeps until an event is pending on `me`, and takes it (the upcall clears the pending bit). */
static void wait_event(struct channel *me) { wait_pending(&me->pending); }

/*
 * Copies `count` whole slots from slot `idx` on between the ring and `local`, in runs that stop
 * at the ring's wrap (the pages are contiguous here): assembly/ring.ts's consumeBatch and
 * produceBatch, which the guest uses so that a backend pays one grant copy per run.
 */
static void copy_slots(uint8_t *ring0, unsigned int size, unsigned int slot, RING_IDX idx, unsigned int count, uint8_t *local, int to_ring) {
    while (count > 0) {
        unsigned int first = idx & (size - 1), run = size - first;
        if (run > count) run = count;
        uint8_t *s = ring0 + (size_t)first * slot;
        if (to_ring) memcpy(s, local, (size_t)run * slot); else memcpy(local, s, (size_t)run * slot);
        idx += run; count -= run; local += (size_t)run * slot;
    }
}

/* The back's state and its round: examples/ringbench.ts's backStep. */
static struct back_ring br;
static uint8_t *back_buf;
static uint32_t back_done;
static int back_ready;

static void back_step(void) {
    struct back_ring *r = &br;
    /* consumeBatch(back_buf, RING_SIZE): the ready requests, re-reading req_prod once they are used up. */
    unsigned int k = 0, ready;
    while (k < RING_SIZE(r) && (ready = RING_HAS_UNCONSUMED_REQUESTS(r)) != 0) {
        xen_rmb();
        if (ready > RING_SIZE(r) - k) ready = RING_SIZE(r) - k;
        copy_slots((uint8_t *)(r->sring + 1), RING_SIZE(r), r->slot, r->req_cons, ready, back_buf + (size_t)k * B.slot, 0); /* RING_COPY_REQUEST each */
        r->req_cons += ready;
        k += ready;
    }
    if (k == 0) return;
    for (unsigned int j = 0; j < k; j++) {
        uint64_t *req = (uint64_t *)(back_buf + (size_t)j * B.slot);
        uint64_t id = back_done++;
        if (req[0] != id) die("back: request %llu has id %llu", (unsigned long long)id, (unsigned long long)req[0]);
        req[0] = id ^ ID_FLIP;
        uint64_t m = mask(id);
        for (unsigned int i = 0; i < B.words; i++) req[1 + i] ^= m;
        if ((int64_t)id == B.corrupt_at) req[B.words] ^= 0x100; /* the test hook: the last word */
    }
    copy_slots((uint8_t *)(r->sring + 1), RING_SIZE(r), r->slot, r->rsp_prod_pvt, k, back_buf, 1);
    r->rsp_prod_pvt += k;
    if (B.poll) RING_PUSH_RESPONSES(r);
    else { int notify_; RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify_); if (notify_) notify(&B.back, &B.front); }
}

static void *back_main(void *unused) {
    (void)unused;
    br = (struct back_ring){ 0, 0, rd32((B.pages * 4096 - 64) / B.slot), B.sring, B.slot }; /* BACK_RING_ATTACH(.., 0) */
    back_buf = aligned_alloc(64, (size_t)B.pages * 4096);
    if (!back_buf) die("out of memory");
    __atomic_store_n(&back_ready, 1, __ATOMIC_RELEASE); /* the guest's "ready" notification */
    while (back_done < B.n) {
        back_step();
        if (back_done == B.n || B.poll) continue;
        int more;
        RING_FINAL_CHECK_FOR_REQUESTS(&br, more);
        if (!more) wait_event(&B.back);
    }
    return NULL;
}

/* The front's state and its round: examples/ringbench.ts's frontStep. */
static struct front_ring fr;
static uint8_t *req_buf, *rsp_buf;
static uint32_t sent, done;

static void front_step(void) {
    struct front_ring *r = &fr;
    /* consumeBatch(rsp_buf, RING_SIZE): the ready responses, re-reading rsp_prod once they are used up. */
    unsigned int k = 0, ready;
    while (k < RING_SIZE(r) && (ready = RING_HAS_UNCONSUMED_RESPONSES(r)) != 0) {
        xen_rmb();
        if (ready > RING_SIZE(r) - k) ready = RING_SIZE(r) - k;
        copy_slots((uint8_t *)(r->sring + 1), RING_SIZE(r), r->slot, r->rsp_cons, ready, rsp_buf + (size_t)k * B.slot, 0); /* RING_COPY_RESPONSE each */
        r->rsp_cons += ready;
        k += ready;
    }
    for (unsigned int j = 0; j < k; j++) {
        const uint64_t *rsp = (const uint64_t *)(rsp_buf + (size_t)j * B.slot);
        uint64_t id = done++;
        if (rsp[0] != (id ^ ID_FLIP)) die("response %llu: id %llu (out of order or corrupt)", (unsigned long long)id, (unsigned long long)(rsp[0] ^ ID_FLIP));
        uint64_t m = mask(id), p = payload(id, 0), diff = 0;
        for (unsigned int i = 0; i < B.words; i++, p += PAY_STEP) diff |= rsp[1 + i] ^ p ^ m;
        if (diff)
            for (unsigned int i = 0; i < B.words; i++)
                if (rsp[1 + i] != (payload(id, i) ^ m)) die("response %llu: payload word %u differs from the request's echo", (unsigned long long)id, i);
    }
    unsigned int c = B.qd - (sent - done);
    if (c > B.n - sent) c = B.n - sent;
    if (c == 0) return;
    for (unsigned int j = 0; j < c; j++) {
        uint64_t *req = (uint64_t *)(req_buf + (size_t)j * B.slot);
        uint64_t id = sent++;
        req[0] = id;
        uint64_t p = payload(id, 0);
        for (unsigned int i = 0; i < B.words; i++, p += PAY_STEP) req[1 + i] = p;
    }
    copy_slots((uint8_t *)(r->sring + 1), RING_SIZE(r), r->slot, r->req_prod_pvt, c, req_buf, 1);
    r->req_prod_pvt += c;
    if (B.poll) RING_PUSH_REQUESTS(r);
    else { int notify_; RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(r, notify_); if (notify_) notify(&B.front, &B.back); }
}

int main(int argc, char **argv) {
    B.slot = 112; B.pages = 1; B.qd = 32; B.n = 100000; B.poll = 0; B.corrupt_at = -1;
    int mode_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "ring: %s needs a value\n", a); return 2; }
        i++;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        int num_ok = *v && !*end && !errno;
        if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "poll")) B.poll = 1; else if (!strcmp(v, "event")) B.poll = 0;
            else { fprintf(stderr, "ring: --mode must be poll or event\n"); return 2; }
            mode_set = 1;
        } else if (!num_ok) { fprintf(stderr, "ring: bad value '%s' for %s\n", v, a); return 2; }
        else if (!strcmp(a, "--slot") && x >= 8 && x <= 4032 && x % 8 == 0) B.slot = x;
        else if (!strcmp(a, "--pages") && x >= 1 && x <= 16) B.pages = x;
        else if (!strcmp(a, "--qd") && x >= 1) B.qd = x > UINT_MAX ? UINT_MAX : x;
        else if (!strcmp(a, "--requests") && x >= 1 && x <= 0x80000000ull) B.n = x;
        else if (!strcmp(a, "--corrupt") && x <= 0x80000000ull) B.corrupt_at = x;
        else { fprintf(stderr, "ring: bad option or value: %s %s\n", a, v); return 2; }
    }
    if (!mode_set) { fprintf(stderr, "ring: --mode poll|event is required\n"); return 2; }
    B.words = (B.slot - 8) / 8;
    void *mem;
    if (posix_memalign(&mem, 4096, (size_t)B.pages * 4096)) die("out of memory");
    memset(mem, 0, (size_t)B.pages * 4096);
    B.sring = mem;
    SHARED_RING_INIT(B.sring);
    fr = (struct front_ring){ 0, 0, rd32((B.pages * 4096 - 64) / B.slot), B.sring, B.slot }; /* FRONT_RING_INIT */
    if (B.qd > RING_SIZE(&fr)) { fprintf(stderr, "ring: --qd %u exceeds the ring's %u slots\n", B.qd, RING_SIZE(&fr)); return 2; }
    req_buf = aligned_alloc(64, (size_t)B.pages * 4096);
    rsp_buf = aligned_alloc(64, (size_t)B.pages * 4096);
    if (!req_buf || !rsp_buf) die("out of memory");

    pthread_t back;
    if (pthread_create(&back, NULL, back_main, NULL)) die("pthread_create failed");
    while (!__atomic_load_n(&back_ready, __ATOMIC_ACQUIRE)) sched_yield(); /* timed from "ready", as the guest */
    uint64_t t0 = now_ns();
    while (done < B.n) {
        front_step();
        if (done == B.n || B.poll) continue;
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&fr, more);
        if (!more) wait_event(&B.front);
    }
    uint64_t ns = now_ns() - t0;
    pthread_join(back, NULL);
    printf("requests=%u ns=%llu notifies_front=%llu notifies_back=%llu ring_size=%u\n", B.n, (unsigned long long)ns,
           (unsigned long long)B.front.notifies, (unsigned long long)B.back.notifies, RING_SIZE(&fr));
    return 0;
}
