/* promptwitness clock shim: shift a run's wall clock by a fixed offset.
 *
 * Preloaded into every dynamically linked program of a run through the run's own
 * /etc/ld.so.preload (probe.clock). The offset, in seconds with up to nine decimals
 * ("+123.456789" or "-86400"), is read once from PW_CLOCK_FILE; no file or an
 * unreadable one means no shift. The real-time clocks (CLOCK_REALTIME and its coarse,
 * alarm and TAI variants), gettimeofday, time and timespec_get are shifted; the
 * monotonic and CPU clocks are not, so timers, timeouts and durations are untouched;
 * absolute real-time deadlines given to the C library (condition variables, semaphores,
 * timed locks, clock_nanosleep) are shifted back to the real clock.
 *
 * Why not libfaketime: it writes FAKETIME_SHARED into every process's environment and
 * makes semaphores and shared memory under /dev/shm, tells an audited program can see,
 * and it exits the process when that shared memory cannot be made. This shim adds no
 * variable, makes no file, takes no lock, does no allocation, and keeps errno.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef PW_CLOCK_FILE
#define PW_CLOCK_FILE "/etc/ld.so.clock"
#endif

typedef int (*pw_clock_gettime_t)(clockid_t, struct timespec *);
typedef int (*pw_gettimeofday_t)(struct timeval *, void *);

static pw_clock_gettime_t pw_real_clock_gettime;
static pw_gettimeofday_t pw_real_gettimeofday;
static int64_t pw_offset_ns;
static int pw_ready;

static int64_t pw_parse(const char *s, ssize_t n) {
    ssize_t i = 0;
    int neg = 0, frac = 0;
    int64_t sec = 0, ns = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (sec > (INT64_MAX / 1000000000) / 10) return 0; /* absurd: no shift */
        sec = sec * 10 + (s[i] - '0');
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9' && frac < 9; i++, frac++)
            ns = ns * 10 + (s[i] - '0');
    }
    for (; frac < 9; frac++) ns *= 10;
    int64_t total = sec * 1000000000 + ns;
    return neg ? -total : total;
}

static void pw_init(void) {
    if (__atomic_load_n(&pw_ready, __ATOMIC_ACQUIRE)) return;
    int saved = errno;
    pw_clock_gettime_t cg = (pw_clock_gettime_t)dlsym(RTLD_NEXT, "clock_gettime");
    pw_gettimeofday_t gt = (pw_gettimeofday_t)dlsym(RTLD_NEXT, "gettimeofday");
    int64_t offset = 0;
    long fd = syscall(SYS_openat, AT_FDCWD, PW_CLOCK_FILE, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[64];
        long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
        syscall(SYS_close, fd);
        if (n > 0) offset = pw_parse(buf, n);
    }
    pw_real_clock_gettime = cg;
    pw_real_gettimeofday = gt;
    pw_offset_ns = offset;
    __atomic_store_n(&pw_ready, 1, __ATOMIC_RELEASE);
    errno = saved;
}

__attribute__((constructor)) static void pw_constructor(void) { pw_init(); }

static int pw_realtime(clockid_t id) {
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE
#ifdef CLOCK_REALTIME_ALARM
        || id == CLOCK_REALTIME_ALARM
#endif
#ifdef CLOCK_TAI
        || id == CLOCK_TAI
#endif
        ;
}

/* ts + delta nanoseconds, normalised (tv_nsec in 0..999999999) */
static void pw_move(struct timespec *ts, int64_t delta) {
    int64_t ns = (int64_t)ts->tv_nsec + delta % 1000000000;
    time_t sec = ts->tv_sec + (time_t)(delta / 1000000000);
    if (ns < 0) { ns += 1000000000; sec -= 1; }
    if (ns >= 1000000000) { ns -= 1000000000; sec += 1; }
    ts->tv_sec = sec;
    ts->tv_nsec = (long)ns;
}

static void pw_shift(struct timespec *ts) { pw_move(ts, pw_offset_ns); }

int clock_gettime(clockid_t id, struct timespec *ts) {
    pw_init();
    int rc = pw_real_clock_gettime ? pw_real_clock_gettime(id, ts)
                                   : (int)syscall(SYS_clock_gettime, id, ts);
    if (rc == 0 && ts && pw_offset_ns && pw_realtime(id)) pw_shift(ts);
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    pw_init();
    int rc = pw_real_gettimeofday ? pw_real_gettimeofday(tv, tz)
                                  : (int)syscall(SYS_gettimeofday, tv, tz);
    if (rc == 0 && tv && pw_offset_ns) {
        struct timespec ts = {tv->tv_sec, (long)tv->tv_usec * 1000};
        pw_shift(&ts);
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}

/* Absolute deadlines on the real-time clock. The program computed them from the
 * shifted clock; the C library and the kernel compare them with the real one. They are
 * shifted back here, or a run whose clock is behind (a pinned instant in the past) sees
 * every such wait time out at once and spins: Bun's (JavaScriptCore's) condition
 * variables did, at 60 s of system CPU a run. Waits on the monotonic clock are left
 * alone (relative timeouts, poll, select and epoll never need this). */
#include <pthread.h>
#include <semaphore.h>

static struct timespec pw_unshift(const struct timespec *ts) {
    struct timespec t = *ts;
    pw_move(&t, -pw_offset_ns);
    return t;
}

typedef int (*pw_cond_timedwait_t)(pthread_cond_t *, pthread_mutex_t *,
                                   const struct timespec *);
typedef int (*pw_sem_timedwait_t)(sem_t *, const struct timespec *);
typedef int (*pw_mutex_timedlock_t)(pthread_mutex_t *, const struct timespec *);
typedef int (*pw_clock_nanosleep_t)(clockid_t, int, const struct timespec *,
                                    struct timespec *);

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                           const struct timespec *abstime) {
    static pw_cond_timedwait_t real;
    pw_init();
    if (!real) real = (pw_cond_timedwait_t)dlvsym(RTLD_NEXT, "pthread_cond_timedwait",
                                                  "GLIBC_2.3.2");
    if (!real) real = (pw_cond_timedwait_t)dlsym(RTLD_NEXT, "pthread_cond_timedwait");
    /* glibc keeps a condition variable's clock in bit 1 of __wrefs (1: monotonic) */
    if (pw_offset_ns && abstime && !(c->__data.__wrefs & 2)) {
        struct timespec t = pw_unshift(abstime);
        return real(c, m, &t);
    }
    return real(c, m, abstime);
}

int sem_timedwait(sem_t *s, const struct timespec *abstime) {
    static pw_sem_timedwait_t real;
    pw_init();
    if (!real) real = (pw_sem_timedwait_t)dlsym(RTLD_NEXT, "sem_timedwait");
    if (pw_offset_ns && abstime) {
        struct timespec t = pw_unshift(abstime);
        return real(s, &t);
    }
    return real(s, abstime);
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime) {
    static pw_mutex_timedlock_t real;
    pw_init();
    if (!real) real = (pw_mutex_timedlock_t)dlsym(RTLD_NEXT, "pthread_mutex_timedlock");
    if (pw_offset_ns && abstime) {
        struct timespec t = pw_unshift(abstime);
        return real(m, &t);
    }
    return real(m, abstime);
}

int clock_nanosleep(clockid_t id, int flags, const struct timespec *req,
                    struct timespec *rem) {
    static pw_clock_nanosleep_t real;
    pw_init();
    if (!real) real = (pw_clock_nanosleep_t)dlsym(RTLD_NEXT, "clock_nanosleep");
    if (pw_offset_ns && req && (flags & TIMER_ABSTIME) && pw_realtime(id)) {
        struct timespec t = pw_unshift(req);
        return real(id, flags, &t, rem);
    }
    return real(id, flags, req, rem);
}
