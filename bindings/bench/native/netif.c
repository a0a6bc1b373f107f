/*
 * The native C reference of `xenwasm bench net`: xen/include/public/io/netif.h's split driver
 * (netfront transmit, netback + bridge in dom0, netfront receive) between pthreads of one
 * process, as ring.c is for the plain ring of `xenwasm bench ring`.
 *
 *   netif --workload guest-guest|guest-sink --len BYTES [--gso] --frames N --mode poll|event
 *         --queues 1|2 [--seed S] [--corrupt K]
 *
 * prints one line on stdout on success:
 *   frames=N bytes=B ns=T notifies=K copy_ops=C bytes_copied=D
 * and on failure one line on stderr (`netif: ...`) and exit status 1 (2 for bad arguments).
 * `ns` runs from just before the sender writes frame 0 to the verification of the last frame;
 * `bytes` is N * len; `notifies` counts the event-channel sends of all parties (0 in poll mode);
 * `copy_ops` counts the memcpy's that stand for GNTTABOP_copy entries (one per contiguous piece
 * of one source slot within one destination page) and `bytes_copied` their bytes.
 *
 * The parties, one thread each, each with its own memory; a "grant" is a grant reference that
 * the owner's grant table (an array of page pointers) resolves:
 *   - sender (netfront transmit; the main thread): a pool of 256 4 KiB transmit pages per queue,
 *     the page of ring slot idx being page idx % 256 (a slot is reused only after its response,
 *     so the page is free then), request id = idx % 256, gref = queue * 256 + idx % 256. Frame
 *     i of L bytes takes ceil(L / 4096) slots (one page each, offset 0, 4096 bytes but the last;
 *     every slot but the last has NETTXF_more_data; the first request's size is L, the others'
 *     their own bytes, as netif.h says). A GSO frame (--gso) has one XEN_NETIF_EXTRA_TYPE_GSO
 *     extra-info slot right after the first (gso.size 1448, XEN_NETIF_GSO_TYPE_TCPV4) and
 *     NETTXF_extra_info on the first request. The sender writes frames in order while the ring
 *     has room for a whole frame, pushing (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY) every PUSH_SLOTS
 *     slots and when it stops, and consumes tx responses (status OKAY, or NULL for extra slots,
 *     as netback's make_tx_response writes them) to free slots and pages. Non-GSO frames longer
 *     than 4096 bytes are chained the same way (netfront with feature-sg).
 *   - switch (netback + bridge, one thread for every queue): per queue a round takes up to
 *     SWITCH_BUDGET frames from the tx requests that are ready (each request copied out of the
 *     shared ring first, RING_COPY_REQUEST), checks them as netback does (offset + size within
 *     the page, the first size covering the others, at most XEN_NETBK_LEGACY_SLOTS_MAX slots),
 *     forwards each frame, then writes tx responses and pushes the rx responses and the tx
 *     responses with the check-notify macros.
 *     guest-guest: the frame takes ceil(L / 4096) of the receiver's posted rx requests, plus one
 *     for the GSO extra slot (right after the first, as netback's rx path places it); the data
 *     are memcpy'd from the sender's pages into the receiver's (GNTTABOP_copy), frame offset o
 *     going to rx buffer o / 4096 at o % 4096; rx responses: status = bytes in that buffer,
 *     NETRXF_more_data on all but the last data buffer, NETRXF_extra_info on the first of a GSO
 *     frame whose next slot holds the netif_extra_info (gso.size and type as the tx extra).
 *     When the receiver has not posted enough buffers for the next frame the switch stops
 *     taking that queue's tx requests (back-pressure, as netback's
 *     xenvif_rx_ring_slots_available: it sets req_event = req_prod + 1 and waits).
 *     guest-sink: the frame is copied the same way into the switch's own 64 KiB buffer
 *     (counted alike) and the switch verifies it; there is no receiver.
 *   - receiver (netfront receive, guest-guest only): keeps its rx ring full (256 buffers per
 *     queue, the buffer of slot idx being its page idx % 256, id = idx % 256, gref = queue * 256
 *     + idx % 256, as netfront's xennet_rxidx), consumes rx responses (copied out), reassembles
 *     each frame from its chain, verifies it, and reposts the buffers it consumed
 *     (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).
 *
 * Frame i (0, 1, 2, ...; frame i goes on queue i % queues) of L bytes: bytes 0..5 destination
 * MAC 00:16:3e:00:00:02, 6..11 source MAC 00:16:3e:00:00:01, 12..13 ethertype 0x88b5 (big
 * endian), 14..17 i as a little-endian u32, and from byte 18 on the pattern: the byte at frame
 * offset o is byte (o % 4) of the little-endian u32 x0 + (o / 4) * 0x9E3779B9 (mod 2^32), where
 * x0 = xorshift32(xorshift32(s)), s = seed * 0x9E3779B9 ^ (i + 1) * 0x85EBCA6B, replaced by 1
 * when it is 0, and xorshift32(x) = (x ^= x << 13, x ^= x >> 17, x ^= x << 5). (A per-frame
 * xorshift32 seed then a Weyl sequence: every byte depends on the frame and its position, and
 * generating and checking it is vectorisable, so that the pattern does not dominate the cost.)
 * Frames shorter than 18 bytes carry only part of i (or none): their order cannot be checked.
 * The verifier (the receiver, or the switch for guest-sink) checks every byte, the length and
 * the GSO extra of every frame, and that each queue's frames come in order; `--corrupt K`
 * makes the switch flip the last byte of frame K after copying it.
 *
 * Rings: netif.h's tx and rx rings, one 4 KiB page each (256 slots: a 64-byte sring header then
 * 12-byte tx or 8-byte rx slots), with io/ring.h's macros and barriers as in ring.c. Event
 * channels: one per ring and direction (tx requests, tx responses, rx requests, rx responses of
 * each queue), bound to the thread that serves it. A send sets the port's pending word and, if
 * it was clear, the thread's upcall-pending word, and FUTEX_WAKEs the thread if that one was
 * clear (Xen's evtchn_set_pending: a vCPU is kicked only for a newly pending event); a thread
 * that found no work runs the final checks and waits as ring.c does (exchange its word with 0,
 * poll it 30 us, FUTEX_WAIT), then clears its ports' pending words (the upcall) and looks at its
 * rings again. Poll mode: everybody spins on the indices and nobody notifies; it needs a CPU per
 * thread (3 for guest-guest, 2 for guest-sink): with fewer, a spinning thread holds a CPU for its
 * whole timeslice while the peer it waits for is descheduled, and the figures collapse.
 */
#define PROG "netif"
#include "common.h"

/* ---- io/ring.h ------------------------------------------------------------------------- */


#define __RD2(_x)  (((_x) & 0x00000002) ? 0x2 : ((_x) & 0x1))
#define __RD4(_x)  (((_x) & 0x0000000c) ? __RD2((_x) >> 2) << 2 : __RD2(_x))
#define __RD8(_x)  (((_x) & 0x000000f0) ? __RD4((_x) >> 4) << 4 : __RD4(_x))
#define __RD16(_x) (((_x) & 0x0000ff00) ? __RD8((_x) >> 8) << 8 : __RD8(_x))
#define __RD32(_x) (((_x) & 0xffff0000) ? __RD16((_x) >> 16) << 16 : __RD16(_x))

#define PAGE_SIZE 4096u

/* DEFINE_RING_TYPES: the shared ring (64-byte header, then the slots) and the two private views. */
#define DEFINE_RING_TYPES(name, req_t, rsp_t) \
    union name##_sring_entry { req_t req; rsp_t rsp; }; \
    struct name##_sring { \
        RING_IDX req_prod, req_event; \
        RING_IDX rsp_prod, rsp_event; \
        union { struct { uint8_t smartpoll_active; } netif; struct { uint8_t msg; } tapif_user; uint8_t pvt_pad[4]; } pvt; \
        uint8_t __pad[44]; \
        union name##_sring_entry ring[]; \
    }; \
    struct name##_front_ring { RING_IDX req_prod_pvt, rsp_cons; unsigned int nr_ents; struct name##_sring *sring; }; \
    struct name##_back_ring { RING_IDX rsp_prod_pvt, req_cons; unsigned int nr_ents; struct name##_sring *sring; }

#define __RING_SIZE(_s, _sz) (__RD32(((_sz) - offsetof(__typeof__(*(_s)), ring)) / sizeof((_s)->ring[0])))
#define SHARED_RING_INIT(_s) do { (_s)->req_prod = (_s)->rsp_prod = 0; (_s)->req_event = (_s)->rsp_event = 1; \
    memset(&(_s)->pvt, 0, sizeof((_s)->pvt)); memset((_s)->__pad, 0, sizeof((_s)->__pad)); } while (0)
#define FRONT_RING_INIT(_r, _s, __size) do { (_r)->req_prod_pvt = 0; (_r)->rsp_cons = 0; \
    (_r)->nr_ents = __RING_SIZE(_s, __size); (_r)->sring = (_s); } while (0)
#define BACK_RING_INIT(_r, _s, __size) do { (_r)->rsp_prod_pvt = 0; (_r)->req_cons = 0; \
    (_r)->nr_ents = __RING_SIZE(_s, __size); (_r)->sring = (_s); } while (0)
#define RING_SIZE(_r) ((_r)->nr_ents)
#define RING_FREE_REQUESTS(_r) (RING_SIZE(_r) - ((_r)->req_prod_pvt - (_r)->rsp_cons))
#define RING_HAS_UNCONSUMED_RESPONSES(_r) (READ_IDX((_r)->sring->rsp_prod) - (_r)->rsp_cons)
#define RING_HAS_UNCONSUMED_REQUESTS(_r) ({ \
    unsigned int req = READ_IDX((_r)->sring->req_prod) - (_r)->req_cons; \
    unsigned int rsp = RING_SIZE(_r) - ((_r)->req_cons - (_r)->rsp_prod_pvt); \
    req < rsp ? req : rsp; })
#define RING_GET_REQUEST(_r, _idx) (&((_r)->sring->ring[(_idx) & (RING_SIZE(_r) - 1)].req))
#define RING_GET_RESPONSE(_r, _idx) (&((_r)->sring->ring[(_idx) & (RING_SIZE(_r) - 1)].rsp))
/* Copies a slot out through a volatile access: the peer may rewrite it, we use our copy only.
 * (ring.h writes `volatile typeof(_req)`, which makes the pointer volatile, not the slot.) */
#define RING_COPY_REQUEST(_r, _idx, _req) do { *(_req) = *(volatile __typeof__(*(_req)) *)RING_GET_REQUEST(_r, _idx); } while (0)
#define RING_COPY_RESPONSE(_r, _idx, _rsp) do { *(_rsp) = *(volatile __typeof__(*(_rsp)) *)RING_GET_RESPONSE(_r, _idx); } while (0)
#define RING_PUSH_REQUESTS(_r) do { xen_wmb(); WRITE_IDX((_r)->sring->req_prod, (_r)->req_prod_pvt); } while (0)
#define RING_PUSH_RESPONSES(_r) do { xen_wmb(); WRITE_IDX((_r)->sring->rsp_prod, (_r)->rsp_prod_pvt); } while (0)
#define RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(_r, _notify) do { \
    RING_IDX __old = (_r)->sring->req_prod; RING_IDX __new = (_r)->req_prod_pvt; \
    xen_wmb(); WRITE_IDX((_r)->sring->req_prod, __new); xen_mb(); \
    (_notify) = ((RING_IDX)(__new - READ_IDX((_r)->sring->req_event)) < (RING_IDX)(__new - __old)); } while (0)
#define RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(_r, _notify) do { \
    RING_IDX __old = (_r)->sring->rsp_prod; RING_IDX __new = (_r)->rsp_prod_pvt; \
    xen_wmb(); WRITE_IDX((_r)->sring->rsp_prod, __new); xen_mb(); \
    (_notify) = ((RING_IDX)(__new - READ_IDX((_r)->sring->rsp_event)) < (RING_IDX)(__new - __old)); } while (0)
#define RING_FINAL_CHECK_FOR_REQUESTS(_r, _work) do { \
    (_work) = RING_HAS_UNCONSUMED_REQUESTS(_r); if (_work) break; \
    WRITE_IDX((_r)->sring->req_event, (_r)->req_cons + 1); xen_mb(); \
    (_work) = RING_HAS_UNCONSUMED_REQUESTS(_r); } while (0)
#define RING_FINAL_CHECK_FOR_RESPONSES(_r, _work) do { \
    (_work) = RING_HAS_UNCONSUMED_RESPONSES(_r); if (_work) break; \
    WRITE_IDX((_r)->sring->rsp_event, (_r)->rsp_cons + 1); xen_mb(); \
    (_work) = RING_HAS_UNCONSUMED_RESPONSES(_r); } while (0)

/* ---- io/netif.h ------------------------------------------------------------------------ */

#define NETTXF_csum_blank     (1u << 0)
#define NETTXF_data_validated (1u << 1)
#define NETTXF_more_data      (1u << 2)
#define NETTXF_extra_info     (1u << 3)
#define NETRXF_data_validated (1u << 0)
#define NETRXF_csum_blank     (1u << 1)
#define NETRXF_more_data      (1u << 2)
#define NETRXF_extra_info     (1u << 3)
#define XEN_NETIF_EXTRA_TYPE_GSO 1
#define XEN_NETIF_EXTRA_FLAG_MORE (1u << 0)
#define XEN_NETIF_GSO_TYPE_TCPV4 1
#define XEN_NETIF_RSP_DROPPED (-2)
#define XEN_NETIF_RSP_ERROR   (-1)
#define XEN_NETIF_RSP_OKAY    0
#define XEN_NETIF_RSP_NULL    1
#define XEN_NETBK_LEGACY_SLOTS_MAX 18 /* XEN_NETIF_NR_SLOTS_MIN: slots a frame may take on the tx ring */

struct netif_tx_request { uint32_t gref; uint16_t offset; uint16_t flags; uint16_t id; uint16_t size; };
struct netif_tx_response { uint16_t id; int16_t status; };
struct netif_extra_info {
    uint8_t type, flags;
    union { struct { uint16_t size; uint8_t type; uint8_t pad; uint16_t features; } gso; uint16_t pad[3]; } u;
};
struct netif_rx_request { uint16_t id; uint16_t pad; uint32_t gref; };
struct netif_rx_response { uint16_t id; uint16_t offset; uint16_t flags; int16_t status; };
_Static_assert(sizeof(struct netif_tx_request) == 12, "netif_tx_request is 12 bytes");
_Static_assert(sizeof(struct netif_tx_response) == 4, "netif_tx_response is 4 bytes");
_Static_assert(sizeof(struct netif_extra_info) == 8, "netif_extra_info is 8 bytes");
_Static_assert(sizeof(struct netif_rx_request) == 8, "netif_rx_request is 8 bytes");
_Static_assert(sizeof(struct netif_rx_response) == 8, "netif_rx_response is 8 bytes");

DEFINE_RING_TYPES(netif_tx, struct netif_tx_request, struct netif_tx_response);
DEFINE_RING_TYPES(netif_rx, struct netif_rx_request, struct netif_rx_response);
_Static_assert(offsetof(struct netif_tx_sring, ring) == 64 && offsetof(struct netif_rx_sring, ring) == 64, "the sring header is 64 bytes");
_Static_assert(sizeof(union netif_tx_sring_entry) == 12 && sizeof(union netif_rx_sring_entry) == 8, "slot sizes");
#define NET_TX_RING_SIZE __RING_SIZE((struct netif_tx_sring *)0, PAGE_SIZE)
#define NET_RX_RING_SIZE __RING_SIZE((struct netif_rx_sring *)0, PAGE_SIZE)
_Static_assert(NET_TX_RING_SIZE == 256 && NET_RX_RING_SIZE == 256, "one-page netif rings have 256 slots");
#define NR_SLOTS 256u

/* ---- the benchmark --------------------------------------------------------------------- */

#define MAX_QUEUES 2
#define MAX_FRAME 65535u
#define MAX_PAGES ((MAX_FRAME + PAGE_SIZE - 1) / PAGE_SIZE) /* 16 */
#define GSO_MSS 1448
/* The sender pushes every PUSH_SLOTS slots it wrote (and whenever it stops writing). */
#ifndef PUSH_SLOTS
#define PUSH_SLOTS 64u
#endif
/* Frames the switch forwards per queue before it pushes (netback's NAPI weight is 64). */
#ifndef SWITCH_BUDGET
#define SWITCH_BUDGET 64u
#endif

#define ALIGNED __attribute__((aligned(64)))

/* A thread's upcall-pending word (its "vCPU") and the notifications it sent. */
struct vcpu { int pending; uint64_t notifies; } ALIGNED;
/* One event channel direction: its pending word and the vCPU it is bound to. */
struct port { int pending; struct vcpu *to; } ALIGNED;

static struct vcpu V_SENDER, V_SWITCH, V_RECEIVER;

static struct {
    int guest_guest, gso, poll;
    unsigned int queues;
    uint32_t len, n, seed;
    int64_t corrupt_at;
    uint32_t data_slots; /* ceil(len / 4096) */
} C;

/* What one queue shares: the ring pages and the four ports. */
static struct shared_q {
    struct netif_tx_sring *txs;
    struct netif_rx_sring *rxs;
    struct port tx_req, tx_rsp, rx_req, rx_rsp;
} SQ[MAX_QUEUES];

/* Grant tables: the sender's transmit pages and the receiver's receive buffers, by gref. */
static uint8_t *GNT_SENDER[MAX_QUEUES * NR_SLOTS];
static uint8_t *GNT_RECEIVER[MAX_QUEUES * NR_SLOTS];

/* EVTCHNOP_send on `p` by `from`: the port's pending bit, then the vCPU's, kicked when newly set. */
static void notify(struct vcpu *from, struct port *p) {
    from->notifies++;
    if (__atomic_exchange_n(&p->pending, 1, __ATOMIC_SEQ_CST) == 0) kick(&p->to->pending);
}

/* Sleeps until an event is pending on `me` (common.h's wait_pending), then clears the ports (upcall). */
static void wait_event(struct vcpu *me, struct port *ports[], unsigned int nports) {
    wait_pending(&me->pending);
    for (unsigned int k = 0; k < nports; k++) __atomic_exchange_n(&ports[k]->pending, 0, __ATOMIC_SEQ_CST);
}

/* ---- frame contents -------------------------------------------------------------------- */

#define PAT_STEP 0x9E3779B9u
typedef uint32_t v4u __attribute__((vector_size(16)));
static const uint8_t HDR[14] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01, 0x88, 0xb5 };

static inline uint32_t xorshift32(uint32_t x) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x; }

/* x0 of frame i: the pattern's word at frame offset 4k is x0 + k * PAT_STEP. */
static inline uint32_t frame_x0(uint32_t i) {
    uint32_t s = C.seed * 0x9E3779B9u ^ (i + 1) * 0x85EBCA6Bu;
    if (s == 0) s = 1;
    return xorshift32(xorshift32(s));
}

/* The byte of frame i at offset o. */
static inline uint8_t expected_byte(uint32_t i, uint32_t x0, uint32_t o) {
    if (o < 14) return HDR[o];
    if (o < 18) return (uint8_t)(i >> (8 * (o - 14)));
    return (uint8_t)((x0 + (o >> 2) * PAT_STEP) >> (8 * (o & 3)));
}

/* Writes bytes [off, off + n) of frame i at dst (off a multiple of 4). */
static void fill_frame(uint8_t *dst, uint32_t i, uint32_t x0, uint32_t off, uint32_t n) {
    uint32_t w = x0 + (off >> 2) * PAT_STEP;
    v4u e = { w, w + PAT_STEP, w + 2 * PAT_STEP, w + 3 * PAT_STEP }, step = { 4 * PAT_STEP, 4 * PAT_STEP, 4 * PAT_STEP, 4 * PAT_STEP };
    uint32_t k = 0;
    for (; k + 16 <= n; k += 16, e += step) memcpy(dst + k, &e, 16);
    if (k < n) memcpy(dst + k, &e, n - k);
    if (off < 18) {
        uint8_t h[18];
        memcpy(h, HDR, 14);
        h[14] = (uint8_t)i; h[15] = (uint8_t)(i >> 8); h[16] = (uint8_t)(i >> 16); h[17] = (uint8_t)(i >> 24);
        memcpy(dst, h + off, n < 18 - off ? n : 18 - off);
    }
}

/* Checks bytes [off, off + n) of frame i at src; returns the frame offset of the first wrong byte, or -1. */
static int64_t check_frame(const uint8_t *src, uint32_t i, uint32_t x0, uint32_t off, uint32_t n) {
    uint32_t o = off, end = off + n;
    if (off == 0 && n >= 20) { /* the header and the pattern's first two bytes, at once */
        uint8_t h[20];
        uint32_t w4 = x0 + 4 * PAT_STEP;
        memcpy(h, HDR, 14);
        h[14] = (uint8_t)i; h[15] = (uint8_t)(i >> 8); h[16] = (uint8_t)(i >> 16); h[17] = (uint8_t)(i >> 24);
        h[18] = (uint8_t)(w4 >> 16); h[19] = (uint8_t)(w4 >> 24);
        if (memcmp(src, h, 20) == 0) o = 20;
    }
    for (; o < end && (o < 20 || (o & 3)); o++) if (src[o - off] != expected_byte(i, x0, o)) return o;
    uint32_t w = x0 + (o >> 2) * PAT_STEP;
    v4u e = { w, w + PAT_STEP, w + 2 * PAT_STEP, w + 3 * PAT_STEP }, step = { 4 * PAT_STEP, 4 * PAT_STEP, 4 * PAT_STEP, 4 * PAT_STEP }, diff = { 0, 0, 0, 0 };
    uint32_t start = o;
    for (; o + 16 <= end; o += 16, e += step) { v4u g; memcpy(&g, src + (o - off), 16); diff |= g ^ e; }
    if (diff[0] | diff[1] | diff[2] | diff[3])
        for (uint32_t p = start; p < o; p++) if (src[p - off] != expected_byte(i, x0, p)) return p;
    for (; o < end; o++) if (src[o - off] != expected_byte(i, x0, o)) return o;
    return -1;
}

/* The verifier's verdict on a wrong byte: out of order if the index differs, else the byte. */
static void __attribute__((noreturn)) bad_byte(unsigned int q, uint32_t i, uint32_t off, uint32_t n, const uint8_t *src, int64_t bad) {
    uint32_t b = (uint32_t)bad;
    if (C.len >= 18 && b >= 14 && b < 18) {
        uint32_t got = 0;
        if (off <= 14 && off + n >= 18) { /* the index is in this piece */
            const uint8_t *p = src + (14 - off);
            got = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
        die("queue %u: frame %u arrived where frame %u was expected (out of order or corrupt)", q, got, i);
    }
    die("queue %u frame %u: byte %u is 0x%02x, expected 0x%02x", q, i, b, src[b - off], expected_byte(i, frame_x0(i), b));
}

/* ---- sender (netfront transmit) -------------------------------------------------------- */

static struct sender_q { struct netif_tx_front_ring txf; uint8_t *pages; RING_IDX pushed; } ALIGNED SND[MAX_QUEUES];

static void sender_push(unsigned int q) {
    struct sender_q *s = &SND[q];
    if (s->pushed == s->txf.req_prod_pvt) return;
    s->pushed = s->txf.req_prod_pvt;
    if (C.poll) { RING_PUSH_REQUESTS(&s->txf); return; }
    int n_;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&s->txf, n_);
    if (n_) notify(&V_SENDER, &SQ[q].tx_req);
}

/* Writes frame i into slots and requests of queue q (the caller checked the room). */
static void send_frame(unsigned int q, uint32_t i) {
    struct sender_q *s = &SND[q];
    struct netif_tx_front_ring *r = &s->txf;
    RING_IDX idx = r->req_prod_pvt;
    uint32_t x0 = frame_x0(i), L = C.len;
    for (uint32_t off = 0; off < L; off += PAGE_SIZE) {
        uint32_t n = L - off < PAGE_SIZE ? L - off : PAGE_SIZE;
        unsigned int slot = idx & (NR_SLOTS - 1);
        fill_frame(s->pages + (size_t)slot * PAGE_SIZE, i, x0, off, n);
        struct netif_tx_request *req = RING_GET_REQUEST(r, idx);
        req->gref = q * NR_SLOTS + slot;
        req->offset = 0;
        req->flags = (off + n < L ? NETTXF_more_data : 0) | (off == 0 && C.gso ? NETTXF_extra_info : 0);
        req->id = slot;
        req->size = off == 0 ? L : n;
        idx++;
        if (off == 0 && C.gso) {
            struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO, .flags = 0,
                .u.gso = { .size = GSO_MSS, .type = XEN_NETIF_GSO_TYPE_TCPV4, .pad = 0, .features = 0 } };
            memcpy(RING_GET_REQUEST(r, idx), &ex, sizeof(ex)); /* an extra-info slot of the tx ring */
            idx++;
        }
    }
    r->req_prod_pvt = idx;
    if (idx - s->pushed >= PUSH_SLOTS) sender_push(q);
}

/* Consumes queue q's tx responses; returns how many. */
static unsigned int sender_gc(unsigned int q) {
    struct netif_tx_front_ring *r = &SND[q].txf;
    RING_IDX prod = READ_IDX(r->sring->rsp_prod), c = r->rsp_cons;
    if (prod == c) return 0;
    xen_rmb();
    if (prod - c > r->req_prod_pvt - c) die("sender: queue %u: %u tx responses for %u requests", q, prod - c, r->req_prod_pvt - c);
    for (; c != prod; c++) {
        struct netif_tx_response rsp;
        RING_COPY_RESPONSE(r, c, &rsp);
        if (rsp.status == XEN_NETIF_RSP_NULL) continue;
        if (rsp.status != XEN_NETIF_RSP_OKAY) die("sender: queue %u: tx response %u has status %d", q, c, rsp.status);
        if (rsp.id != (c & (NR_SLOTS - 1))) die("sender: queue %u: tx response %u has id %u", q, c, rsp.id);
        /* The page of slot c is free again (netfront's xennet_tx_buf_gc). */
    }
    unsigned int k = prod - r->rsp_cons;
    r->rsp_cons = prod;
    return k;
}

static void sender_run(void) {
    uint32_t slots = C.data_slots + (C.gso ? 1 : 0), i = 0;
    struct port *ports[MAX_QUEUES];
    for (unsigned int q = 0; q < C.queues; q++) ports[q] = &SQ[q].tx_rsp;
    for (;;) {
        unsigned int progress = 0;
        for (unsigned int q = 0; q < C.queues; q++) progress += sender_gc(q);
        while (i < C.n) {
            unsigned int q = i % C.queues;
            if (RING_FREE_REQUESTS(&SND[q].txf) < slots) break;
            send_frame(q, i++);
            progress++;
        }
        int busy = 0;
        for (unsigned int q = 0; q < C.queues; q++) { sender_push(q); busy |= SND[q].txf.rsp_cons != SND[q].txf.req_prod_pvt; }
        if (i == C.n && !busy) return;
        if (C.poll || progress) continue;
        int more = 0;
        for (unsigned int q = 0; q < C.queues; q++) { int w; RING_FINAL_CHECK_FOR_RESPONSES(&SND[q].txf, w); more |= w; }
        if (!more) wait_event(&V_SENDER, ports, C.queues);
    }
}

/* ---- verifier state (the receiver's, or the switch's in guest-sink) -------------------- */

static uint32_t NEXT_FRAME[MAX_QUEUES]; /* the next frame index expected on each queue */
static uint32_t VERIFIED;
static uint64_t T_END;

static void frame_verified(void) {
    if (++VERIFIED == C.n) T_END = now_ns();
}

/* ---- switch (netback + bridge) --------------------------------------------------------- */

static struct switch_q {
    struct netif_tx_back_ring txb;
    struct netif_rx_back_ring rxb;
    unsigned int tx_avail, rx_avail; /* ready requests seen and not used yet */
    unsigned int blocked;            /* rx buffers the next frame needs, or 0 */
    uint32_t forwarded;              /* frames forwarded on this queue: the next is q + queues * forwarded */
} ALIGNED SW[MAX_QUEUES];
static uint64_t COPY_OPS, BYTES_COPIED;
static uint32_t FORWARDED;
static uint8_t *SINK;

/* Resolves a grant of `table` (entries MAX_QUEUES * NR_SLOTS) for `what`. */
static inline uint8_t *grant(uint8_t **table, uint32_t gref, const char *what) {
    if (gref >= C.queues * NR_SLOTS) die("switch: %s gref %u is not granted", what, gref);
    return table[gref];
}

/* Makes sure queue q's tx ring has `need` ready requests seen; returns 0 if it has not. */
static inline int tx_ready(struct switch_q *s, unsigned int need) {
    if (s->tx_avail >= need) return 1;
    s->tx_avail = RING_HAS_UNCONSUMED_REQUESTS(&s->txb);
    xen_rmb();
    return s->tx_avail >= need;
}

/* One round of queue q: forwards up to SWITCH_BUDGET frames, then pushes. Returns frames forwarded. */
static unsigned int switch_queue(unsigned int q) {
    struct switch_q *s = &SW[q];
    struct netif_tx_back_ring *t = &s->txb;
    struct netif_rx_back_ring *rx = &s->rxb;
    unsigned int frames = 0;
    while (frames < SWITCH_BUDGET) {
        /* netback's xenvif_tx_build_gops: the first request, its extras, its fragments. */
        struct netif_tx_request txr[XEN_NETBK_LEGACY_SLOTS_MAX];
        unsigned int ntx = 0, nslots = 0, has_gso = 0;
        struct netif_extra_info gso = { 0, 0, { .pad = { 0, 0, 0 } } };
        RING_IDX c = t->req_cons;
        if (!tx_ready(s, 1)) break;
        RING_COPY_REQUEST(t, c, &txr[0]);
        ntx = 1; nslots = 1;
        int extra = txr[0].flags & NETTXF_extra_info, more = txr[0].flags & NETTXF_more_data, incomplete = 0;
        while (extra) {
            if (!tx_ready(s, nslots + 1)) { incomplete = 1; break; }
            struct netif_extra_info ex;
            memcpy(&ex, RING_GET_REQUEST(t, c + nslots), sizeof(ex)); /* the extra shares the slot: copied out */
            nslots++;
            if (ex.type == XEN_NETIF_EXTRA_TYPE_GSO) { gso = ex; has_gso = 1; }
            else die("switch: queue %u: unknown extra type %u", q, ex.type);
            extra = ex.flags & XEN_NETIF_EXTRA_FLAG_MORE;
        }
        while (more && !incomplete) {
            if (nslots >= XEN_NETBK_LEGACY_SLOTS_MAX) die("switch: queue %u: a frame takes more than %u slots", q, XEN_NETBK_LEGACY_SLOTS_MAX);
            if (!tx_ready(s, nslots + 1)) { incomplete = 1; break; }
            RING_COPY_REQUEST(t, c + nslots, &txr[ntx]);
            more = txr[ntx].flags & NETTXF_more_data;
            ntx++; nslots++;
        }
        if (incomplete) break; /* the rest of the frame is not pushed yet */
        uint32_t L = txr[0].size, rest = 0;
        for (unsigned int k = 1; k < ntx; k++) rest += txr[k].size;
        if (rest > L || L < 14) die("switch: queue %u: frame of %u bytes with %u bytes of fragments", q, L, rest);
        txr[0].size = L - rest; /* the first slot's own bytes */
        for (unsigned int k = 0; k < ntx; k++)
            if (txr[k].offset + txr[k].size > PAGE_SIZE) die("switch: queue %u: tx request crosses its page (offset %u size %u)", q, txr[k].offset, txr[k].size);
        /* Where the frame goes: the receiver's posted buffers, or our own buffer. */
        uint8_t *dst[MAX_PAGES];
        uint16_t rx_id[MAX_PAGES + 1];
        unsigned int nbuf = (L + PAGE_SIZE - 1) / PAGE_SIZE;
        RING_IDX r0 = rx->req_cons;
        if (C.guest_guest) {
            unsigned int need = nbuf + has_gso;
            if (s->rx_avail < need) {
                /* xenvif_rx_ring_slots_available: ask for an event at the next request, recheck. */
                for (;;) {
                    RING_IDX prod = READ_IDX(rx->sring->req_prod);
                    s->rx_avail = prod - rx->req_cons;
                    if (s->rx_avail >= need || C.poll) break;
                    WRITE_IDX(rx->sring->req_event, prod + 1);
                    xen_mb();
                    if (READ_IDX(rx->sring->req_prod) == prod) break;
                }
                xen_rmb();
                if (s->rx_avail < need) { s->blocked = need; break; }
            }
            s->blocked = 0;
            for (unsigned int k = 0, slot = 0; k < need; k++) {
                struct netif_rx_request rq;
                RING_COPY_REQUEST(rx, r0 + k, &rq);
                if (has_gso && k == 1) { rx_id[nbuf] = rq.id; continue; } /* the extra slot's buffer */
                rx_id[slot] = rq.id;
                dst[slot++] = grant(GNT_RECEIVER, rq.gref, "rx");
            }
            rx->req_cons += need;
            s->rx_avail -= need;
        } else {
            for (unsigned int k = 0; k < nbuf; k++) dst[k] = SINK + (size_t)k * PAGE_SIZE;
        }
        /* GNTTABOP_copy: one op per piece of a source slot within one destination page. */
        uint32_t fo = 0;
        for (unsigned int k = 0; k < ntx; k++) {
            const uint8_t *src = grant(GNT_SENDER, txr[k].gref, "tx") + txr[k].offset;
            uint32_t left = txr[k].size;
            while (left) {
                uint32_t within = PAGE_SIZE - (fo & (PAGE_SIZE - 1)), piece = left < within ? left : within;
                memcpy(dst[fo / PAGE_SIZE] + (fo & (PAGE_SIZE - 1)), src, piece);
                COPY_OPS++; BYTES_COPIED += piece;
                src += piece; fo += piece; left -= piece;
            }
        }
        uint32_t i = q + C.queues * s->forwarded++; /* the sender puts frame i on queue i % queues */
        FORWARDED++;
        if ((int64_t)i == C.corrupt_at) dst[(L - 1) / PAGE_SIZE][(L - 1) & (PAGE_SIZE - 1)] ^= 0x01; /* the test hook */
        if (C.guest_guest) {
            /* rx responses, one per request taken, in its slot. */
            RING_IDX p = rx->rsp_prod_pvt;
            for (unsigned int b = 0; b < nbuf; b++) {
                uint32_t bytes = b + 1 < nbuf ? PAGE_SIZE : L - b * PAGE_SIZE;
                struct netif_rx_response *rsp = RING_GET_RESPONSE(rx, p);
                rsp->id = rx_id[b];
                rsp->offset = 0;
                rsp->flags = (b + 1 < nbuf ? NETRXF_more_data : 0) | (b == 0 && has_gso ? NETRXF_extra_info : 0);
                rsp->status = (int16_t)bytes;
                p++;
                if (b == 0 && has_gso) {
                    struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO, .flags = 0,
                        .u.gso = { .size = gso.u.gso.size, .type = gso.u.gso.type, .pad = 0, .features = 0 } };
                    memcpy(RING_GET_RESPONSE(rx, p), &ex, sizeof(ex)); /* the rx slot holds the extra */
                    p++;
                }
            }
            rx->rsp_prod_pvt = p;
        } else {
            /* The sink: verify the frame in our buffer. */
            uint32_t want = NEXT_FRAME[q];
            if (L != C.len) die("queue %u frame %u: %u bytes, expected %u", q, want, L, C.len);
            for (unsigned int b = 0; b < nbuf; b++) {
                uint32_t off = b * PAGE_SIZE, n = b + 1 < nbuf ? PAGE_SIZE : L - off;
                int64_t bad = check_frame(dst[b], want, frame_x0(want), off, n);
                if (bad >= 0) bad_byte(q, want, off, n, dst[b], bad);
            }
            if (has_gso != (unsigned int)C.gso || (has_gso && (gso.u.gso.size != GSO_MSS || gso.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4)))
                die("queue %u frame %u: wrong GSO extra", q, want);
            NEXT_FRAME[q] = want + C.queues;
            frame_verified();
        }
        /* make_tx_response: the first request, NULL for its extras, then the fragments. */
        RING_IDX p = t->rsp_prod_pvt;
        for (unsigned int k = 0; k < ntx; k++) {
            struct netif_tx_response *rsp = RING_GET_RESPONSE(t, p++);
            rsp->id = txr[k].id;
            rsp->status = XEN_NETIF_RSP_OKAY;
            if (k == 0) for (unsigned int e = 0; e < nslots - ntx; e++) RING_GET_RESPONSE(t, p++)->status = XEN_NETIF_RSP_NULL;
        }
        t->rsp_prod_pvt = p;
        t->req_cons += nslots;
        s->tx_avail -= nslots;
        frames++;
    }
    if (frames) {
        if (C.poll) {
            if (C.guest_guest) RING_PUSH_RESPONSES(rx);
            RING_PUSH_RESPONSES(t);
        } else {
            int n_;
            if (C.guest_guest) { RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(rx, n_); if (n_) notify(&V_SWITCH, &SQ[q].rx_rsp); }
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(t, n_);
            if (n_) notify(&V_SWITCH, &SQ[q].tx_rsp);
        }
    }
    return frames;
}

static int SWITCH_READY, RECEIVER_READY;

static void *switch_main(void *unused) {
    (void)unused;
    struct port *ports[2 * MAX_QUEUES];
    for (unsigned int q = 0; q < C.queues; q++) {
        BACK_RING_INIT(&SW[q].txb, SQ[q].txs, PAGE_SIZE);
        BACK_RING_INIT(&SW[q].rxb, SQ[q].rxs, PAGE_SIZE);
        ports[2 * q] = &SQ[q].tx_req;
        ports[2 * q + 1] = &SQ[q].rx_req;
    }
    __atomic_store_n(&SWITCH_READY, 1, __ATOMIC_RELEASE);
    while (FORWARDED < C.n) {
        unsigned int progress = 0;
        for (unsigned int q = 0; q < C.queues; q++) progress += switch_queue(q);
        if (FORWARDED == C.n || C.poll || progress) continue;
        int more = 0;
        for (unsigned int q = 0; q < C.queues && !more; q++) {
            struct switch_q *s = &SW[q];
            if (s->blocked) {
                /* Waiting for rx buffers: req_event asks for the next one (set by switch_queue). */
                xen_mb();
                more |= READ_IDX(s->rxb.sring->req_prod) - s->rxb.req_cons >= s->blocked;
                if (!more) { WRITE_IDX(s->rxb.sring->req_event, READ_IDX(s->rxb.sring->req_prod) + 1); xen_mb();
                             more |= READ_IDX(s->rxb.sring->req_prod) - s->rxb.req_cons >= s->blocked; }
            } else {
                int w;
                RING_FINAL_CHECK_FOR_REQUESTS(&s->txb, w);
                more |= w;
            }
        }
        if (!more) wait_event(&V_SWITCH, ports, 2 * C.queues);
    }
    return NULL;
}

/* ---- receiver (netfront receive) ------------------------------------------------------- */

static struct receiver_q { struct netif_rx_front_ring rxf; uint8_t *pages; } ALIGNED RCV[MAX_QUEUES];

/* Posts rx requests up to a full ring (xennet_alloc_rx_buffers); the buffer of slot idx is page idx % 256. */
static void receiver_post(unsigned int q, int initial) {
    struct netif_rx_front_ring *r = &RCV[q].rxf;
    RING_IDX idx = r->req_prod_pvt, end = r->rsp_cons + NR_SLOTS;
    if (idx == end) return;
    for (; idx != end; idx++) {
        struct netif_rx_request *rq = RING_GET_REQUEST(r, idx);
        rq->id = idx & (NR_SLOTS - 1);
        rq->pad = 0;
        rq->gref = q * NR_SLOTS + (idx & (NR_SLOTS - 1));
    }
    r->req_prod_pvt = idx;
    if (C.poll || initial) { RING_PUSH_REQUESTS(r); return; }
    int n_;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(r, n_);
    if (n_) notify(&V_RECEIVER, &SQ[q].rx_req);
}

/* Consumes queue q's complete frames (xennet_poll), verifying each; returns frames. */
static unsigned int receiver_queue(unsigned int q) {
    struct receiver_q *rq = &RCV[q];
    struct netif_rx_front_ring *r = &rq->rxf;
    RING_IDX prod = READ_IDX(r->sring->rsp_prod), c = r->rsp_cons;
    if (prod == c) return 0;
    xen_rmb();
    if (prod - c > r->req_prod_pvt - c) die("receiver: queue %u: %u rx responses for %u requests", q, prod - c, r->req_prod_pvt - c);
    unsigned int frames = 0;
    while (c != prod) {
        uint32_t i = NEXT_FRAME[q], x0 = frame_x0(i), fo = 0;
        RING_IDX k = c;
        int gso = 0, more = 1;
        while (more) {
            if (k == prod) goto partial; /* the rest of the frame is not pushed yet */
            struct netif_rx_response rsp;
            RING_COPY_RESPONSE(r, k, &rsp);
            if (rsp.id != (k & (NR_SLOTS - 1))) die("receiver: queue %u: rx response %u has id %u", q, k, rsp.id);
            if (rsp.status <= 0) die("receiver: queue %u frame %u: rx response status %d", q, i, rsp.status);
            if (rsp.offset + (uint32_t)rsp.status > PAGE_SIZE) die("receiver: queue %u frame %u: rx response crosses its page", q, i);
            if (fo + (uint32_t)rsp.status > C.len) die("queue %u frame %u: more than %u bytes", q, i, C.len);
            const uint8_t *src = rq->pages + (size_t)rsp.id * PAGE_SIZE + rsp.offset;
            int64_t bad = check_frame(src, i, x0, fo, (uint32_t)rsp.status);
            if (bad >= 0) bad_byte(q, i, fo, (uint32_t)rsp.status, src, bad);
            fo += (uint32_t)rsp.status;
            more = rsp.flags & NETRXF_more_data;
            k++;
            if (rsp.flags & NETRXF_extra_info) {
                if (k == c + 1 && !gso) {
                    if (k == prod) goto partial;
                    struct netif_extra_info ex;
                    memcpy(&ex, RING_GET_RESPONSE(r, k), sizeof(ex));
                    if (ex.type != XEN_NETIF_EXTRA_TYPE_GSO || (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE) || ex.u.gso.size != GSO_MSS || ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4)
                        die("queue %u frame %u: wrong GSO extra", q, i);
                    gso = 1;
                    k++;
                } else die("queue %u frame %u: extra info flag on a later slot", q, i);
            }
        }
        if (fo != C.len) die("queue %u frame %u: %u bytes, expected %u", q, i, fo, C.len);
        if (gso != C.gso) die("queue %u frame %u: %s GSO extra", q, i, gso ? "unexpected" : "missing");
        NEXT_FRAME[q] = i + C.queues;
        frame_verified();
        frames++;
        c = k;
    }
partial:
    r->rsp_cons = c;
    receiver_post(q, 0);
    return frames;
}

static void *receiver_main(void *unused) {
    (void)unused;
    struct port *ports[MAX_QUEUES];
    for (unsigned int q = 0; q < C.queues; q++) {
        FRONT_RING_INIT(&RCV[q].rxf, SQ[q].rxs, PAGE_SIZE);
        receiver_post(q, 1);
        ports[q] = &SQ[q].rx_rsp;
    }
    __atomic_store_n(&RECEIVER_READY, 1, __ATOMIC_RELEASE);
    while (VERIFIED < C.n) {
        unsigned int progress = 0;
        for (unsigned int q = 0; q < C.queues; q++) progress += receiver_queue(q);
        if (VERIFIED == C.n || C.poll || progress) continue;
        int more = 0;
        for (unsigned int q = 0; q < C.queues; q++) { int w; RING_FINAL_CHECK_FOR_RESPONSES(&RCV[q].rxf, w); more |= w; }
        if (!more) wait_event(&V_RECEIVER, ports, C.queues);
    }
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------ */

static void *page_alloc(size_t pages) {
    void *p;
    if (posix_memalign(&p, PAGE_SIZE, pages * PAGE_SIZE)) die("out of memory");
    memset(p, 0, pages * PAGE_SIZE); /* touched now, not while timing */
    return p;
}

static int usage(const char *msg, const char *v) {
    fprintf(stderr, "netif: %s%s%s\n", msg, v ? " " : "", v ? v : "");
    return 2;
}

int main(int argc, char **argv) {
    int have_workload = 0, have_len = 0, have_frames = 0, have_mode = 0, have_queues = 0;
    C.corrupt_at = -1;
    C.seed = 1;
    for (int a = 1; a < argc; a++) {
        const char *o = argv[a];
        if (!strcmp(o, "--gso")) { C.gso = 1; continue; }
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (strncmp(o, "--", 2)) return usage("unexpected argument", o);
        if (!v) { fprintf(stderr, "netif: %s needs a value\n", o); return 2; }
        a++;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        int num = *v >= '0' && *v <= '9' && !*end && !errno;
        if (!strcmp(o, "--workload")) {
            if (!strcmp(v, "guest-guest")) C.guest_guest = 1;
            else if (!strcmp(v, "guest-sink")) C.guest_guest = 0;
            else return usage("--workload must be guest-guest or guest-sink, not", v);
            have_workload = 1;
        } else if (!strcmp(o, "--mode")) {
            if (!strcmp(v, "poll")) C.poll = 1;
            else if (!strcmp(v, "event")) C.poll = 0;
            else return usage("--mode must be poll or event, not", v);
            have_mode = 1;
        } else if (!strcmp(o, "--len")) {
            if (!num || x < 14 || x > MAX_FRAME) return usage("--len must be 14..65535, not", v);
            C.len = x; have_len = 1;
        } else if (!strcmp(o, "--frames")) {
            if (!num || x < 1 || x > 0x80000000ull) return usage("--frames must be 1..2147483648, not", v);
            C.n = x; have_frames = 1;
        } else if (!strcmp(o, "--queues")) {
            if (!num || x < 1 || x > MAX_QUEUES) return usage("--queues must be 1 or 2, not", v);
            C.queues = x; have_queues = 1;
        } else if (!strcmp(o, "--seed")) {
            if (!num || x > 0xFFFFFFFFull) return usage("--seed must be 0..4294967295, not", v);
            C.seed = x;
        } else if (!strcmp(o, "--corrupt")) {
            if (!num || x > 0x80000000ull) return usage("--corrupt must be a frame index, not", v);
            C.corrupt_at = x;
        } else return usage("unknown option", o);
    }
    if (!have_workload || !have_len || !have_frames || !have_mode || !have_queues)
        return usage("usage: netif --workload guest-guest|guest-sink --len BYTES [--gso] --frames N --mode poll|event --queues 1|2 [--seed S] [--corrupt K]", NULL);
    if (C.gso && C.len <= 1514) { fprintf(stderr, "netif: --gso needs --len above 1514, not %u\n", C.len); return 2; }
    C.data_slots = (C.len + PAGE_SIZE - 1) / PAGE_SIZE;

    for (unsigned int q = 0; q < C.queues; q++) {
        SQ[q].txs = page_alloc(1);
        SQ[q].rxs = page_alloc(1);
        SHARED_RING_INIT(SQ[q].txs);
        SHARED_RING_INIT(SQ[q].rxs);
        SQ[q].tx_req.to = &V_SWITCH;
        SQ[q].rx_req.to = &V_SWITCH;
        SQ[q].tx_rsp.to = &V_SENDER;
        SQ[q].rx_rsp.to = &V_RECEIVER;
        SND[q].pages = page_alloc(NR_SLOTS);
        FRONT_RING_INIT(&SND[q].txf, SQ[q].txs, PAGE_SIZE);
        for (unsigned int k = 0; k < NR_SLOTS; k++) GNT_SENDER[q * NR_SLOTS + k] = SND[q].pages + (size_t)k * PAGE_SIZE;
        if (C.guest_guest) {
            RCV[q].pages = page_alloc(NR_SLOTS);
            for (unsigned int k = 0; k < NR_SLOTS; k++) GNT_RECEIVER[q * NR_SLOTS + k] = RCV[q].pages + (size_t)k * PAGE_SIZE;
        }
    }
    if (!C.guest_guest) SINK = page_alloc(MAX_PAGES);
    for (unsigned int q = 0; q < C.queues; q++) NEXT_FRAME[q] = q;

    pthread_t sw, rcv;
    if (C.guest_guest) {
        if (pthread_create(&rcv, NULL, receiver_main, NULL)) die("pthread_create failed");
        while (!__atomic_load_n(&RECEIVER_READY, __ATOMIC_ACQUIRE)) sched_yield();
    }
    if (pthread_create(&sw, NULL, switch_main, NULL)) die("pthread_create failed");
    while (!__atomic_load_n(&SWITCH_READY, __ATOMIC_ACQUIRE)) sched_yield();
    uint64_t t0 = now_ns();
    sender_run();
    pthread_join(sw, NULL);
    if (C.guest_guest) pthread_join(rcv, NULL);
    if (VERIFIED != C.n) die("%u frames verified, not %u", VERIFIED, C.n);
    printf("frames=%u bytes=%llu ns=%llu notifies=%llu copy_ops=%llu bytes_copied=%llu\n", C.n, (unsigned long long)C.n * C.len,
           (unsigned long long)(T_END - t0), (unsigned long long)(V_SENDER.notifies + V_SWITCH.notifies + V_RECEIVER.notifies),
           (unsigned long long)COPY_OPS, (unsigned long long)BYTES_COPIED);
    return 0;
}
