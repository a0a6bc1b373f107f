/*
 * The native C reference of `xenwasm bench event` (docs/benchmarks.md): the hand-off of
 * examples/pingpong.ts between two pthreads instead of two domains. A counter in one shared
 * word; ping writes the odd values, pong the even ones; after each write the writer notifies the
 * other side's "event channel" and waits for its own.
 *
 *   event --round-trips N --mode event|spin [--corrupt K]
 *
 * prints one line on stdout on success:
 *   round_trips=N ns=T notifies=K
 * and on failure one line on stderr (`event: ...`) and exit status 1 (2 for bad arguments).
 *
 * event mode: an event channel is a pending word per side (common.h's kick and wait_pending:
 * FUTEX_WAKE only when newly set; 30 us of polling before FUTEX_WAIT, as the threaded runner's
 * idle vCPU); spin mode: nobody sleeps, each side spins on its pending word (the runner's
 * --spin). Each side checks, when notified, that the counter holds exactly the value it expects.
 * `--corrupt K` makes pong write a wrong value at round trip K (the test of the check).
 */
#define PROG "event"
#include "common.h"

static struct {
    uint32_t n;
    int spin;
    int64_t corrupt_at;
    uint32_t counter __attribute__((aligned(64)));
    int ping_pending __attribute__((aligned(64)));
    int pong_pending __attribute__((aligned(64)));
    uint64_t notifies;
} S;

static void notify(int *pending) {
    __atomic_fetch_add(&S.notifies, 1, __ATOMIC_RELAXED);
    if (S.spin) __atomic_store_n(pending, 1, __ATOMIC_SEQ_CST);
    else kick(pending);
}

static void wait_for(int *pending) {
    if (!S.spin) { wait_pending(pending); return; }
    while (__atomic_exchange_n(pending, 0, __ATOMIC_SEQ_CST) == 0) { /* spin */ }
}

static void *pong(void *arg) {
    (void)arg;
    for (uint32_t i = 0; i < S.n; i++) {
        wait_for(&S.pong_pending);
        uint32_t v = __atomic_load_n(&S.counter, __ATOMIC_ACQUIRE);
        if (v != 2 * i + 1) die("pong: expected %u, got %u", 2 * i + 1, v);
        uint32_t next = (int64_t)i == S.corrupt_at ? 2 * i + 7 : 2 * i + 2;
        __atomic_store_n(&S.counter, next, __ATOMIC_RELEASE);
        notify(&S.ping_pending);
    }
    return NULL;
}

int main(int argc, char **argv) {
    S.n = 0;
    S.corrupt_at = -1;
    int mode = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--round-trips") && i + 1 < argc) S.n = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) { i++; mode = !strcmp(argv[i], "spin") ? 1 : !strcmp(argv[i], "event") ? 0 : -1; }
        else if (!strcmp(argv[i], "--corrupt") && i + 1 < argc) S.corrupt_at = strtoll(argv[++i], NULL, 10);
        else mode = -2;
    }
    if (S.n == 0 || S.n > 0x7fffffffu || mode < 0) {
        fputs("event: usage: event --round-trips N (1..2^31-1) --mode event|spin [--corrupt K]\n", stderr);
        return 2;
    }
    S.spin = mode;
    pthread_t t;
    if (pthread_create(&t, NULL, pong, NULL)) die("pthread_create failed");
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < S.n; i++) {
        __atomic_store_n(&S.counter, 2 * i + 1, __ATOMIC_RELEASE);
        notify(&S.pong_pending);
        wait_for(&S.ping_pending);
        uint32_t v = __atomic_load_n(&S.counter, __ATOMIC_ACQUIRE);
        if (v != 2 * i + 2) die("ping: expected %u, got %u", 2 * i + 2, v);
    }
    uint64_t ns = now_ns() - t0;
    pthread_join(t, NULL);
    printf("round_trips=%u ns=%llu notifies=%llu\n", S.n, (unsigned long long)ns, (unsigned long long)S.notifies);
    return 0;
}
