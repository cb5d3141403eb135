/* promptwitness trace shim: report every getenv / secure_getenv of a native program.
 *
 * Loaded with LD_PRELOAD in a traced run only (discover.trace). Each lookup is
 * answered exactly as glibc would (first NAME=value of `environ`), and reported by a
 * system call the tracer (strace, outside the sandbox) records and the command never
 * notices: faccessat() of a path under the trace directory that does not exist,
 *
 *     /run/pw-trace/m/env/<how>/<0|1>/<name in hex>
 *
 * (1: the variable is set). A constructor reports that the shim loaded in this
 * process (/run/pw-trace/m/hello/native). No allocation, no lock, no stdio; errno is
 * kept. glibc's own internal lookups (TZ in tzset, LANG in setlocale, the resolver's
 * variables) do not go through the exported getenv and are not seen here: their
 * effect is, as the files they make the process open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PW_TRACE_DIR
#define PW_TRACE_DIR "/run/pw-trace"
#endif
#define PW_MAX_NAME 1024

extern char **environ;

static void pw_report(const char *what) {
    int saved = errno;
    syscall(SYS_faccessat, AT_FDCWD, what, F_OK, 0);
    errno = saved;
}

static void pw_mark(const char *how, int present, const char *name) {
    static const char hexd[] = "0123456789abcdef";
    char buf[sizeof(PW_TRACE_DIR) + 64 + 2 * PW_MAX_NAME];
    size_t n = 0, i;
    const char *parts[] = {PW_TRACE_DIR "/m/env/", how, present ? "/1/" : "/0/"};
    for (i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        memcpy(buf + n, parts[i], len);
        n += len;
    }
    for (i = 0; name[i] && i < PW_MAX_NAME; i++) {
        unsigned char c = (unsigned char)name[i];
        buf[n++] = hexd[c >> 4];
        buf[n++] = hexd[c & 15];
    }
    if (i == 0) buf[n++] = '-';
    buf[n] = 0;
    pw_report(buf);
}

static char *pw_lookup(const char *name) {
    size_t n;
    char **e;
    if (name == NULL || environ == NULL || *name == 0 || strchr(name, '=') != NULL)
        return NULL;
    n = strlen(name);
    for (e = environ; *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

char *getenv(const char *name) {
    char *value = pw_lookup(name);
    if (name != NULL) pw_mark("getenv", value != NULL, name);
    return value;
}

char *secure_getenv(const char *name) {
    char *value = getauxval(AT_SECURE) ? NULL : pw_lookup(name);
    if (name != NULL) pw_mark("secure_getenv", value != NULL, name);
    return value;
}

__attribute__((constructor)) static void pw_hello(void) {
    pw_report(PW_TRACE_DIR "/m/hello/native");
}
