/*
 * nvrtc_child.c — compiling in a forked child, so that a compiler crash or
 * hang becomes an error instead of the death of the caller's process (NVRTC
 * 13.0 segfaults on some inline PTX, see tests/test_nvrtc.c).
 *
 * The child writes one frame (status, message, cubin, log, options) to a
 * pipe and _exits; anything it prints goes to a second pipe and becomes the
 * log when it dies. The parent reads both to EOF (or a deadline, then
 * SIGKILL), reaps the child, and decides from the exit status and frame.
 *
 * Forking a process that has other threads: the child holds only the
 * forking thread, and a lock another thread held at the fork stays held
 * forever in it. So the child touches nothing but glibc's malloc and
 * dynamic loader (glibc re-initialises both locks in the child; NVRTC may
 * dlopen its builtins library), NVRTC through the nvrtc_lib the parent
 * loaded (no lib_lock, no dlopen of NVRTC), write() and _exit(). It never
 * returns into the caller's code, runs no atexit handler and flushes none
 * of the parent's stdio buffers. pthread_atfork child handlers of the host
 * (the CUDA runtime's, say) do run; they only invalidate state there.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ir.h"
#include "nvrtc.h"

#define FRAME_MAGIC "TJNVRTC1"
#define FRAME_MAX ((size_t)512 << 20)   /* a cubin is a few MiB at most */
#define OUTPUT_MAX ((size_t)64 << 10)   /* what we keep of the child's stderr */
#define EXIT_NO_MEMORY 70              /* the child could not build its frame */
#define EXIT_WRITE_FAILED 71           /* ... or could not write it */

enum { PART_CUBIN, PART_LOG, PART_OPTIONS, PART_MESSAGE, NPARTS };

struct frame_head {
    char magic[8];
    int32_t status;
    uint32_t reserved;
    double seconds;
    uint64_t size[NPARTS];
};

/* ---- the frame ----------------------------------------------------- */

void *nvrtc_frame_encode(tj_status status, const char *message, const nvrtc_result *res,
                         size_t *size) {
    const void *part[NPARTS] = {res->cubin, res->log, res->options, message};
    struct frame_head head = {.status = status, .seconds = res->seconds};
    memcpy(head.magic, FRAME_MAGIC, sizeof head.magic);
    size_t total = sizeof head;
    for (int i = 0; i < NPARTS; i++) {
        size_t n = i == PART_CUBIN ? res->cubin_size : part[i] ? strlen(part[i]) : 0;
        head.size[i] = part[i] ? n : 0;
        total += (size_t)head.size[i];
    }
    char *frame = malloc(total), *p = frame;
    if (!frame) return NULL;
    memcpy(p, &head, sizeof head);
    p += sizeof head;
    for (int i = 0; i < NPARTS; i++) {
        if (head.size[i]) memcpy(p, part[i], (size_t)head.size[i]);
        p += head.size[i];
    }
    *size = total;
    return frame;
}

static tj_status frame_bad(size_t size, const char *why) {
    return tj_set_error(TJ_ERR_COMPILE, "the compiler process returned a malformed result "
                        "(%zu bytes: %s)", size, why);
}

/* A NUL-terminated copy of n bytes (strings) or a plain one (the cubin). */
static char *part_copy(const char *p, uint64_t n, int text) {
    if (!n && !text) return NULL;
    char *s = malloc((size_t)n + (text ? 1 : 0));
    if (!s) return NULL;
    memcpy(s, p, (size_t)n);
    if (text) s[n] = '\0';
    return s;
}

tj_status nvrtc_frame_decode(const void *frame, size_t size, nvrtc_result *res,
                             tj_status *status, char **message) {
    struct frame_head head;
    if (size < sizeof head) return frame_bad(size, "shorter than its header");
    memcpy(&head, frame, sizeof head);
    if (memcmp(head.magic, FRAME_MAGIC, sizeof head.magic) != 0)
        return frame_bad(size, "bad magic");
    if (head.status < TJ_OK || head.status > TJ_ERR_INTERNAL)
        return frame_bad(size, "bad status");
    uint64_t left = size - sizeof head;
    for (int i = 0; i < NPARTS; i++) {
        if (head.size[i] > left) return frame_bad(size, "a part runs past the end");
        left -= head.size[i];
    }
    if (left) return frame_bad(size, "bytes after the last part");
    char *copy[NPARTS];
    const char *p = (const char *)frame + sizeof head;
    int ok = 1;
    for (int i = 0; i < NPARTS; i++) {
        copy[i] = part_copy(p, head.size[i], i != PART_CUBIN);
        ok &= copy[i] != NULL || (i == PART_CUBIN && head.size[i] == 0);
        p += head.size[i];
    }
    if (!ok) {
        for (int i = 0; i < NPARTS; i++) free(copy[i]);
        return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory decoding the compiler's result");
    }
    *res = (nvrtc_result){.cubin = copy[PART_CUBIN], .cubin_size = (size_t)head.size[PART_CUBIN],
                          .log = copy[PART_LOG], .options = copy[PART_OPTIONS],
                          .seconds = head.seconds};
    *status = (tj_status)head.status;
    *message = copy[PART_MESSAGE];
    return TJ_OK;
}

/* ---- the child ----------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* A host's crash handler (a JVM's, ASan's, Python's faulthandler) must not
 * run in the child: the crash has to end it with the signal we report. */
static void child_reset_signals(void) {
    static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
        signal(crash_signals[i], SIG_DFL);
        sigaddset(&set, crash_signals[i]);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* stdout and stderr go to the output pipe: whatever NVRTC prints (an
 * internal assertion, say) becomes the log, and nothing mixes into the
 * host's own output. A parent with fd 0-2 closed may have handed us pipe
 * ends among them: move the frame pipe out of the way first. */
static int child_redirect(int out_fd, int err_fd) {
    if (out_fd <= STDERR_FILENO) out_fd = fcntl(out_fd, F_DUPFD, STDERR_FILENO + 1);
    if (out_fd < 0) _exit(EXIT_WRITE_FAILED);
    if (err_fd != STDOUT_FILENO) dup2(err_fd, STDOUT_FILENO);
    if (err_fd != STDERR_FILENO) dup2(err_fd, STDERR_FILENO);
    if (err_fd > STDERR_FILENO) close(err_fd);
    return out_fd;
}

static void __attribute__((noreturn))
child_run(const nvrtc_lib *lib, const nvrtc_request *req, int out_fd, int err_fd) {
    child_reset_signals();
    out_fd = child_redirect(out_fd, err_fd);
    nvrtc_result res = {0};
    tj_status s = nvrtc_compile_with(lib, req, &res);
    size_t size = 0;
    void *frame = nvrtc_frame_encode(s, s == TJ_OK ? "" : tj_last_error(), &res, &size);
    if (!frame) _exit(EXIT_NO_MEMORY);
    _exit(write_all(out_fd, frame, size) ? 0 : EXIT_WRITE_FAILED);
}

/* ---- the parent ---------------------------------------------------- */

/* Held for writing from pipe2() until the parent has closed its write
 * ends, it keeps out:
 *  - another thread's fork: its child would inherit our write ends and keep
 *    our pipe open (O_CLOEXEC does not help: the child never execs);
 *  - compiles in this process (readers, in parallel with each other): a
 *    lock inside NVRTC held by a compiling thread at the fork stays held
 *    forever in the child, which then hangs (seen with NVRTC 13.0 when
 *    in-process and child compiles ran side by side).
 * Writers go first where glibc allows it, so that a stream of in-process
 * compiles cannot starve a fork. NVRTC used by other code in the host,
 * behind our back, can still hang a child: that is what timeouts are for. */
#ifdef PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
static pthread_rwlock_t fork_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#else
static pthread_rwlock_t fork_lock = PTHREAD_RWLOCK_INITIALIZER;
#endif

void nvrtc_in_process_begin(void) { pthread_rwlock_rdlock(&fork_lock); }
void nvrtc_in_process_end(void) { pthread_rwlock_unlock(&fork_lock); }

struct sink {
    int fd;            /* -1 once at EOF */
    char *buf;
    size_t len, cap, max;
    int overflow;      /* more than max bytes came */
};

enum drain_end { DRAIN_EOF, DRAIN_TIMEOUT, DRAIN_OVERFLOW, DRAIN_ERROR };

struct child {
    pid_t pid;
    struct sink out, err;      /* the frame; stdout and stderr */
    enum drain_end end;        /* how reading them ended */
    int err_no;                /* for DRAIN_ERROR */
    int reaped, wstatus;       /* from waitpid */
};

/* Both pipes, or neither (errno says why). */
static int pipes_open(int out[2], int err[2]) {
    if (pipe2(out, O_CLOEXEC) < 0) return 0;
    if (pipe2(err, O_CLOEXEC) == 0) return 1;
    int e = errno;
    close(out[0]);
    close(out[1]);
    errno = e;
    return 0;
}

static tj_status child_start(const nvrtc_lib *lib, const nvrtc_request *req, struct child *c) {
    int out[2], err[2];
    pid_t pid = -1;
    pthread_rwlock_wrlock(&fork_lock);
    int piped = pipes_open(out, err);
    if (piped) pid = fork();
    if (pid == 0) {
        close(out[0]);
        close(err[0]);
        child_run(lib, req, out[1], err[1]);
    }
    int e = errno;
    if (piped) {
        close(out[1]);
        close(err[1]);
    }
    pthread_rwlock_unlock(&fork_lock);
    if (pid < 0) {
        if (piped) {
            close(out[0]);
            close(err[0]);
        }
        return tj_set_error(e == ENOMEM || e == EAGAIN || e == EMFILE ? TJ_ERR_NO_MEMORY
                                                                      : TJ_ERR_INTERNAL,
                            "cannot %s to compile %s for %s: %s",
                            piped ? "fork a process" : "create a pipe", req->name, req->arch,
                            strerror(e));
    }
    c->pid = pid;
    c->out = (struct sink){.fd = out[0], .max = FRAME_MAX};
    c->err = (struct sink){.fd = err[0], .max = OUTPUT_MAX};
    return TJ_OK;
}

/* Read what is there: 1 more may come, 0 at EOF, -1 on error (errno). */
static int sink_read(struct sink *s) {
    char chunk[1 << 16];
    ssize_t n = read(s->fd, chunk, sizeof chunk);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (n == 0) return 0;
    size_t keep = (size_t)n;
    if (s->len + keep > s->max) {
        s->overflow = 1;
        keep = s->max - s->len;
    }
    if (s->len + keep + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap < s->len + keep + 1) cap *= 2;
        char *buf = realloc(s->buf, cap);
        if (!buf) {
            errno = ENOMEM;
            return -1;
        }
        s->buf = buf;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, chunk, keep);
    s->len += keep;
    s->buf[s->len] = '\0';
    return 1;
}

static void sink_close(struct sink *s) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}

/* Milliseconds to the deadline for poll(): -1 for none, 0 once past. */
static int poll_ms(double deadline) {
    if (deadline <= 0) return -1;
    double left = deadline - nvrtc_now();
    if (left <= 0) return 0;
    return left > 86400.0 ? 86400000 : (int)ceil(left * 1000.0);
}

/* Read both pipes until EOF on both, the deadline, too much output, or an
 * error (then *err_no says which). */
static enum drain_end drain(struct child *c, double deadline, int *err_no) {
    struct sink *sinks[2] = {&c->out, &c->err};
    for (;;) {
        struct pollfd pfd[2];
        struct sink *which[2];
        int n = 0;
        for (int i = 0; i < 2; i++)
            if (sinks[i]->fd >= 0) {
                pfd[n] = (struct pollfd){.fd = sinks[i]->fd, .events = POLLIN};
                which[n++] = sinks[i];
            }
        if (n == 0) return DRAIN_EOF;
        int ms = poll_ms(deadline);
        if (ms == 0) return DRAIN_TIMEOUT;
        int r = poll(pfd, (nfds_t)n, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return *err_no = errno, DRAIN_ERROR;
        for (int i = 0; i < n; i++) {
            if (!pfd[i].revents) continue;
            int got = sink_read(which[i]);
            if (got < 0) return *err_no = errno, DRAIN_ERROR;
            if (got == 0) sink_close(which[i]);
        }
        if (c->out.overflow) return DRAIN_OVERFLOW;
    }
}

/* 1 with *wstatus once reaped; 0 when the child was not ours to reap (the
 * host ignores SIGCHLD, or another thread's waitpid(-1) took it). */
static int reap(pid_t pid, int *wstatus) {
    while (waitpid(pid, wstatus, 0) < 0)
        if (errno != EINTR) return 0;
    return 1;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "Segmentation fault";
    case SIGBUS: return "Bus error";
    case SIGABRT: return "Aborted";
    case SIGILL: return "Illegal instruction";
    case SIGFPE: return "Floating-point exception";
    case SIGTRAP: return "Trace/breakpoint trap";
    case SIGSYS: return "Bad system call";
    case SIGKILL: return "Killed";
    case SIGTERM: return "Terminated";
    case SIGINT: return "Interrupt";
    default: return "signal";
    }
}

/* An error about the child itself; its output is the log. */
static tj_status child_failure(const nvrtc_request *req, nvrtc_result *res, const char *what) {
    char head[2048];
    nvrtc_log_head(res->log, head, sizeof head);
    return tj_set_error(TJ_ERR_COMPILE, "%s compiling %s for %s%s%s", what, req->name, req->arch,
                        head[0] ? "; its output:" : "; it left no output", head);
}

/* The answer from a child that exited normally: its frame. What it printed
 * is appended to NVRTC's log. */
static tj_status child_answer(const nvrtc_request *req, struct child *c, nvrtc_result *res) {
    nvrtc_result got;
    tj_status status;
    char *message;
    if (nvrtc_frame_decode(c->out.buf, c->out.len, &got, &status, &message) != TJ_OK) {
        char what[1024];
        snprintf(what, sizeof what, "%s", tj_last_error());
        return child_failure(req, res, what);
    }
    if (res->log && res->log[0]) {
        size_t a = strlen(got.log), b = strlen(res->log);
        char *log = realloc(got.log, a + b + 1);
        if (log) memcpy(log + a, res->log, b + 1), got.log = log;
    }
    free(res->log);
    *res = got;
    if (status != TJ_OK) tj_set_error(status, "%s", message);
    free(message);
    return status;
}

static tj_status child_verdict(const nvrtc_request *req, struct child *c, nvrtc_result *res) {
    char what[256];
    int wstatus = c->wstatus;
    res->log = c->err.buf ? c->err.buf : calloc(1, 1);
    c->err.buf = NULL;
    if (c->end == DRAIN_TIMEOUT) {
        snprintf(what, sizeof what, "NVRTC timed out after %g s (the compiler process was killed)",
                 req->timeout_s);
    } else if (c->end == DRAIN_OVERFLOW) {
        snprintf(what, sizeof what, "the compiler process wrote more than %zu MiB",
                 FRAME_MAX >> 20);
    } else if (c->end == DRAIN_ERROR) {
        snprintf(what, sizeof what, "reading the compiler process's result failed (%s)",
                 strerror(c->err_no));
    } else if (c->reaped && WIFSIGNALED(wstatus)) {
        snprintf(what, sizeof what, "NVRTC crashed (signal %d, %s)", WTERMSIG(wstatus),
                 signal_name(WTERMSIG(wstatus)));
    } else if (c->reaped && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
        int code = WEXITSTATUS(wstatus);
        snprintf(what, sizeof what, "the compiler process exited with status %d%s", code,
                 code == EXIT_NO_MEMORY ? " (out of memory)"
                 : code == EXIT_WRITE_FAILED ? " (could not write its result)" : "");
    } else {
        return child_answer(req, c, res);
    }
    return child_failure(req, res, what);
}

tj_status nvrtc_compile_child(const nvrtc_lib *lib, const nvrtc_request *req, nvrtc_result *res) {
    double t0 = nvrtc_now();
    struct child c = {.out.fd = -1, .err.fd = -1};
    tj_status s = child_start(lib, req, &c);
    if (s != TJ_OK) return s;
    /* The timeout counts from the fork, not from the wait for fork_lock. */
    double deadline = req->timeout_s > 0 ? nvrtc_now() + req->timeout_s : 0;
    c.end = drain(&c, deadline, &c.err_no);
    /* Without EOF the child still holds its pipe, so it is alive and its
     * pid cannot have been reused. */
    if (c.end != DRAIN_EOF) kill(c.pid, SIGKILL);
    c.reaped = reap(c.pid, &c.wstatus);
    sink_close(&c.out);
    sink_close(&c.err);
    s = child_verdict(req, &c, res);
    free(c.out.buf);
    free(c.err.buf);
    res->seconds = nvrtc_now() - t0;
    return s;
}
