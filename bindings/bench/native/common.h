/*
 * What the native references of `xenwasm bench` share (ring.c, netif.c): io/ring.h's barriers
 * and index accesses, one-line failure, the clock, and an "event channel" wait as the threaded
 * runner's idle vCPU does it: a pending word set by the sender, FUTEX_WAKE only when newly set
 * (as Xen's EVTCHNOP_send kicks a vCPU only for a newly pending event), and on the waiting side
 * 30 us of polling before FUTEX_WAIT (bindings/runner/worker.ts SPIN_BEFORE_WAIT_NS), so that both
 * implementations pay the same wake-up policy. Define PROG (the program's name) before including.
 */
#ifndef XENWASM_BENCH_COMMON_H
#define XENWASM_BENCH_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef uint32_t RING_IDX;

/* io/ring.h's barriers: a full fence for xen_mb, acquire/release fences for rmb/wmb. */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
/* Shared indices are read and written once each (ring.h's volatile accesses). */
#define READ_IDX(p)     __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define WRITE_IDX(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

/* Prints "PROG: message" on stderr and exits with status 1 (a failed check). */
static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long futex(int *addr, int op, int val) { return syscall(SYS_futex, addr, op, val, NULL, NULL, 0); }

/* How long a waiting thread polls its pending word before FUTEX_WAIT (as the runner's vCPU). */
#define SPIN_BEFORE_WAIT_NS 30000u

/* Sets the pending word and wakes its thread if it was not pending yet; true when newly set. */
static inline int kick(int *pending) {
    if (__atomic_exchange_n(pending, 1, __ATOMIC_SEQ_CST) != 0) return 0;
    futex(pending, FUTEX_WAKE_PRIVATE, 1);
    return 1;
}

/* Sleeps until the pending word is set, then clears it (the upcall takes the event). */
static inline void wait_pending(int *pending) {
    uint64_t until = now_ns() + SPIN_BEFORE_WAIT_NS;
    while (__atomic_exchange_n(pending, 0, __ATOMIC_SEQ_CST) == 0) {
        while (__atomic_load_n(pending, __ATOMIC_ACQUIRE) == 0 && now_ns() < until) { /* poll */ }
        if (__atomic_load_n(pending, __ATOMIC_ACQUIRE) == 0) futex(pending, FUTEX_WAIT_PRIVATE, 0);
    }
}
#endif
