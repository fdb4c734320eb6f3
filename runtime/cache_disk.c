/*
 * cache_disk.c — the on-disk store: content-addressed entry files under
 * <dir>/v1/<ab>/<key>.tjc, written to a temporary file and renamed, each
 * checked before it is served (cache_entry.c); a size bound with
 * least-recently-used eviction; a memory store for when the disk cannot be
 * used. docs/cache.md has the format and guarantees.
 *
 * Process-wide state (the documented kind): the warn-once flags (atomics)
 * and the set of entries already reported (one mutex).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cache_int.h"
#include "ir.h"

#define DEFAULT_MAX_BYTES ((uint64_t)1 << 30)
#define STALE_TEMP_SECONDS 3600
#define RESCAN_SECONDS 60
#define RESCAN_PUTS 64

/* ---- process-wide: warnings and reports, once each -------------------- */

static atomic_int warned_dir, warned_write, warned_env;

static pthread_mutex_t reported_mu = PTHREAD_MUTEX_INITIALIZER;
static char **reported;
static size_t nreported, capreported;

void cache_report_once(const char *id, const char *fmt, ...) {
    pthread_mutex_lock(&reported_mu);
    for (size_t i = 0; i < nreported; i++) {
        if (strcmp(reported[i], id) == 0) {
            pthread_mutex_unlock(&reported_mu);
            return;
        }
    }
    if (nreported == capreported) {
        size_t cap = capreported ? 2 * capreported : 16;
        char **p = realloc(reported, cap * sizeof *p);
        if (p) reported = p, capreported = cap;
    }
    char *copy = nreported < capreported ? strdup(id) : NULL;
    if (copy) reported[nreported++] = copy;
    pthread_mutex_unlock(&reported_mu);
    va_list ap;
    va_start(ap, fmt);
    fputs("tilejit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void warn_once(atomic_int *flag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_once(atomic_int *flag, const char *fmt, ...) {
    if (atomic_exchange(flag, 1)) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("tilejit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- little helpers ----------------------------------------------------- */

char *cache_path_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p) return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

/* <v1>/<ab>/<hex><suffix> into buf (PATH_MAX-ish). */
int cache_entry_path(const cache_dir *d, const char *hex, char *buf, size_t size) {
    int n = snprintf(buf, size, "%s/%.2s/%s%s", d->v1, hex, hex, CACHE_SUFFIX);
    return n > 0 && (size_t)n < size;
}
int cache_lock_path(const cache_dir *d, const char *hex, char *buf, size_t size) {
    int n = snprintf(buf, size, "%s/locks/%s.lock", d->v1, hex);
    return n > 0 && (size_t)n < size;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int make_dirs(const char *path) {
    char *p = strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int r = mkdir(p, 0777);
    int e = errno;
    free(p);
    if (r == 0) return 0;
    struct stat st;
    if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    errno = e == EEXIST ? ENOTDIR : e;
    return -1;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- opening ------------------------------------------------------------- */

static uint64_t max_bytes_from_env(void) {
    const char *e = getenv("TILEJIT_CACHE_MAX_BYTES");
    if (!e || !*e) return DEFAULT_MAX_BYTES;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && *end == 'i') end++;
    if (shift && (*end == 'B' || *end == 'b')) end++;
    if (errno || end == e || *end || e[0] == '-' || (shift && v > (~0ULL >> shift))) {
        warn_once(&warned_env, "TILEJIT_CACHE_MAX_BYTES=\"%s\" is not a size (like 1073741824 or 512M); "
                  "using 1 GiB", e);
        return DEFAULT_MAX_BYTES;
    }
    return (uint64_t)v << shift;
}

/* The default directory, malloc'd; NULL when there is none. */
static char *default_root(void) {
    const char *e = getenv("TILEJIT_CACHE_DIR");
    if (e && *e) return strdup(e);
    e = getenv("XDG_CACHE_HOME");
    if (e && e[0] == '/') return cache_path_join(e, "tilejit");
    e = getenv("HOME");
    if (e && *e) return cache_path_join(e, ".cache/tilejit");
    return NULL;
}

static void write_tag(const char *root) {
    char *p = cache_path_join(root, "CACHEDIR.TAG");
    if (!p) return;
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
        static const char tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n"
                                  "# This directory is tilejit's kernel cache (docs/cache.md).\n";
        if (write(fd, tag, sizeof tag - 1) < 0) { /* a missing tag costs nothing */ }
        close(fd);
    }
    free(p);
}

/* Set up root/v1 and root/v1/locks: 1 writable, 0 read-only, -1 unusable
 * (errno kept). */
static int prepare_root(cache_dir *d) {
    if (make_dirs(d->root) != 0) return -1;
    if (mkdir(d->v1, 0777) != 0 && errno != EEXIST) return is_dir(d->v1) ? 0 : -1;
    if (!is_dir(d->v1)) {
        errno = ENOTDIR;
        return -1;
    }
    char *locks = cache_path_join(d->v1, "locks");
    if (!locks) return -1;
    int r = (mkdir(locks, 0777) == 0 || errno == EEXIST) && is_dir(locks) && access(d->v1, W_OK) == 0;
    free(locks);
    if (r) write_tag(d->root);
    return r;
}

/* ---- the compiler stamp ------------------------------------------------ */

#define STAMP_NAME "compiler"

static void temp_name(const char *hex, char *buf, size_t size);

/* The value of desc's "nvrtc=" line into buf ("" when absent). */
static void desc_compiler(const char *desc, char *buf, size_t size) {
    buf[0] = '\0';
    const char *p = desc ? strstr(desc, "\nnvrtc=") : NULL;
    if (!p) return;
    p += 7;
    size_t n = strcspn(p, "\n");
    if (n >= size || n == 0) return;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

static void stamp_read(cache_dir *d) {
    char *path = cache_path_join(d->v1, STAMP_NAME);
    if (!path) return;
    FILE *f = fopen(path, "re");
    free(path);
    if (!f) return;
    char line[64] = "";
    if (fgets(line, sizeof line, f) && !strncmp(line, "nvrtc=", 6)) {
        size_t n = strcspn(line + 6, "\n");
        if (n > 0 && n < sizeof d->compiler) {
            memcpy(d->compiler, line + 6, n);
            d->compiler[n] = '\0';
        }
    }
    fclose(f);
}

/* After a put of an entry compiled by `ver`: make it the stamp (atomic
 * replace; a failure only means old entries are served a while longer). */
static void stamp_update(cache_dir *d, const char *ver) {
    if (!ver[0] || !strcmp(ver, "unknown")) return;
    pthread_mutex_lock(&d->mu);
    int same = !strcmp(d->compiler, ver);
    if (!same) snprintf(d->compiler, sizeof d->compiler, "%s", ver);
    pthread_mutex_unlock(&d->mu);
    if (same) return;
    char *path = cache_path_join(d->v1, STAMP_NAME);
    char tmp[256], name[300];
    if (!path) return;
    temp_name(STAMP_NAME, tmp, sizeof tmp);
    snprintf(name, sizeof name, "%s%s", CACHE_TMP_PREFIX, tmp);
    char *tpath = cache_path_join(d->v1, name);
    FILE *f = tpath ? fopen(tpath, "we") : NULL;
    if (f) {
        int ok = fprintf(f, "nvrtc=%s\n", ver) > 0;
        ok &= fclose(f) == 0;
        if (!ok || rename(tpath, path) != 0) unlink(tpath);
    }
    free(tpath);
    free(path);
}

void cache_dir_compiler(cache_dir *d, char *buf, size_t size) {
    if (!buf || !size) return;
    buf[0] = '\0';
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    snprintf(buf, size, "%s", d->compiler);
    pthread_mutex_unlock(&d->mu);
}

tj_status cache_dir_open(const char *path, cache_dir **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_dir_open: out is NULL");
    *out = NULL;
    cache_dir *d = calloc(1, sizeof *d);
    if (!d) return tj_set_error(TJ_ERR_NO_MEMORY, "cache_dir_open: out of memory");
    pthread_mutex_init(&d->mu, NULL);
    d->max_bytes = max_bytes_from_env();
    d->root = path ? (*path ? strdup(path) : NULL) : default_root();
    if (path && *path && !d->root) goto oom;
    if (!path && !d->root)
        warn_once(&warned_dir, "no cache directory (set TILEJIT_CACHE_DIR or HOME); "
                  "compiled kernels are kept in memory only");
    if (d->root && d->max_bytes == 0) {
        free(d->root);
        d->root = NULL;
        d->max_bytes = DEFAULT_MAX_BYTES;
    }
    if (d->root) {
        d->v1 = cache_path_join(d->root, "v1");
        if (!d->v1) goto oom;
        int r = prepare_root(d);
        if (r < 0) {
            warn_once(&warned_dir, "cache directory %s cannot be used (%s); compiled kernels are "
                      "kept in memory only", d->root, strerror(errno));
            free(d->root);
            free(d->v1);
            d->root = d->v1 = NULL;
        } else if (r == 0) {
            warn_once(&warned_dir, "cache directory %s is read-only; cached kernels are read from "
                      "it, new ones kept in memory only", d->root);
        }
        d->writable = r > 0;
        if (r >= 0) stamp_read(d);
    }
    *out = d;
    return TJ_OK;
oom:
    cache_dir_close(d);
    return tj_set_error(TJ_ERR_NO_MEMORY, "cache_dir_open: out of memory");
}

void cache_mem_clear(cache_dir *d) {
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->nmem; i++) free(d->mem[i].data);
    d->nmem = 0;
    d->mem_bytes = 0;
    pthread_mutex_unlock(&d->mu);
}

void cache_dir_close(cache_dir *d) {
    if (!d) return;
    cache_mem_clear(d);
    free(d->mem);
    free(d->root);
    free(d->v1);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

const char *cache_dir_path(const cache_dir *d) { return d ? d->root : NULL; }
int cache_dir_writable(const cache_dir *d) { return d && d->root && d->writable; }

void cache_dir_set_max_bytes(cache_dir *d, uint64_t max_bytes) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->max_bytes = max_bytes;
    d->scanned = 0;   /* the next put rescans against the new bound */
    pthread_mutex_unlock(&d->mu);
}

uint64_t cache_dir_max_bytes(const cache_dir *d) { return d ? d->max_bytes : 0; }

void cache_dir_set_test_hooks(cache_dir *d, const cache_test_hooks *h) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->has_hooks = h != NULL;
    if (h) d->hooks = *h;
    pthread_mutex_unlock(&d->mu);
}

/* ---- the memory store ------------------------------------------------------ */

static int mem_get(cache_dir *d, const char *hex, void **out, size_t *size) {
    int found = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->nmem; i++) {
        cache_mem_entry *e = &d->mem[i];
        if (strcmp(e->hex, hex) != 0) continue;
        found = -1;
        void *p = malloc(e->size ? e->size : 1);
        if (p) {
            memcpy(p, e->data, e->size);
            *out = p;
            *size = e->size;
            e->tick = ++d->tick;
            found = 1;
        }
        break;
    }
    pthread_mutex_unlock(&d->mu);
    return found;
}

/* Keep a copy; the least recently used go past the bound (the newest stays). */
static int mem_put(cache_dir *d, const char *hex, const void *data, size_t size) {
    void *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    pthread_mutex_lock(&d->mu);
    size_t i;
    for (i = 0; i < d->nmem && strcmp(d->mem[i].hex, hex) != 0; i++) {}
    if (i == d->nmem) {
        if (d->nmem == d->capmem) {
            size_t cap = d->capmem ? 2 * d->capmem : 16;
            cache_mem_entry *p = realloc(d->mem, cap * sizeof *p);
            if (!p) {
                pthread_mutex_unlock(&d->mu);
                free(copy);
                return 0;
            }
            d->mem = p;
            d->capmem = cap;
        }
        memcpy(d->mem[i].hex, hex, 65);
        d->mem[i].data = NULL;
        d->mem[i].size = 0;
        d->nmem++;
    }
    d->mem_bytes -= d->mem[i].size;
    free(d->mem[i].data);
    d->mem[i].data = copy;
    d->mem[i].size = size;
    d->mem[i].tick = ++d->tick;
    d->mem_bytes += size;
    while (d->mem_bytes > d->max_bytes && d->nmem > 1) {
        size_t old = 0;
        for (size_t j = 1; j < d->nmem; j++)
            if (d->mem[j].tick < d->mem[old].tick) old = j;
        d->mem_bytes -= d->mem[old].size;
        free(d->mem[old].data);
        d->mem[old] = d->mem[--d->nmem];
    }
    pthread_mutex_unlock(&d->mu);
    return 1;
}

/* ---- get ----------------------------------------------------------------- */

tj_status cache_check_key(const char *fn, const cache_dir *d, const cache_key *key) {
    if (!d) return tj_set_error(TJ_ERR_INVALID_ARG, "%s: the cache handle is NULL", fn);
    if (!key || !cache_is_key_hex(key->hex, strlen(key->hex)))
        return tj_set_error(TJ_ERR_INVALID_ARG, "%s: no key (make it with cache_key_make)", fn);
    return TJ_OK;
}

/* Remove the entry at path if it still is the file we read (a writer may
 * have replaced it with a good one meanwhile). */
static void remove_if_same(const char *path, int fd) {
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        unlink(path);
}

tj_status cache_get(cache_dir *d, const cache_key *key, void **cubin, size_t *size) {
    if (!cubin || !size) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_get: cubin or size is NULL");
    *cubin = NULL;
    *size = 0;
    tj_status st = cache_check_key("cache_get", d, key);
    if (st != TJ_OK) return st;
    if (mem_get(d, key->hex, cubin, size) > 0) return TJ_OK;
    char path[4096];
    if (d->root && cache_entry_path(d, key->hex, path, sizeof path)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0) {
            cache_entry_head h;
            char why[160];
            void *p = NULL;
            cache_entry_state es = cache_entry_read(fd, (uint64_t)sb.st_size, &h, &p, why, sizeof why);
            if (es == CACHE_ENTRY_OK && strcmp(h.hex, key->hex) != 0) {
                es = CACHE_ENTRY_DAMAGED;
                snprintf(why, sizeof why, "it holds key %.16s...", h.hex);
                free(p);
                p = NULL;
            }
            char made_by[32], now_by[32];
            desc_compiler(h.desc, made_by, sizeof made_by);
            cache_dir_compiler(d, now_by, sizeof now_by);
            free(h.desc);
            if (es == CACHE_ENTRY_OK && now_by[0] && made_by[0] && strcmp(made_by, "unknown") &&
                strcmp(made_by, now_by)) {
                cache_report_once(path, "cache entry %s was compiled by NVRTC %s; the cache now "
                                  "compiles with %s, so it is rebuilt", path, made_by, now_by);
                free(p);
                close(fd);
                return tj_set_error(TJ_ERR_IO, "cache miss: key %s in %s was compiled by NVRTC %s, "
                                    "not %s", key->hex, d->root, made_by, now_by);
            }
            if (es == CACHE_ENTRY_OK) {
                if (d->writable) {
                    /* LRU: the last use is the atime, set by hand since
                     * mounts with noatime or relatime would not. */
                    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
                    futimens(fd, ts);
                }
                close(fd);
                *cubin = p;
                *size = (size_t)h.payload_size;
                return TJ_OK;
            }
            if (es != CACHE_ENTRY_IO) {
                cache_report_once(path, "cache entry %s %s (%s); it is removed and will be rebuilt",
                                  path, es == CACHE_ENTRY_FUTURE ? "is from a newer tilejit" : "is damaged",
                                  why);
                if (d->writable) remove_if_same(path, fd);
            }
        }
        if (fd >= 0) close(fd);
    }
    return tj_set_error(TJ_ERR_IO, "cache miss: key %s is not in %s", key->hex,
                        d->root ? d->root : "the memory cache");
}

/* ---- put ----------------------------------------------------------------- */

/* 8 hex digits naming this host in temporary files, so a cleaner can tell
 * a dead writer here from a live one on another host of a shared file
 * system. */
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_id[9];
static void host_init(void) {
    char name[256] = "";
    gethostname(name, sizeof name - 1);
    char hex[65];
    ir_sha256_hex(name, strlen(name), hex);
    memcpy(host_id, hex, 8);
    host_id[8] = '\0';
}

static atomic_uint temp_counter;

/* .tmp.<key prefix>.<host>.<pid>.<counter>.<random> */
static void temp_name(const char *hex, char *buf, size_t size) {
    pthread_once(&host_once, host_init);
    uint32_t rnd;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&rnd;
    snprintf(buf, size, "%.16s.%s.%ld.%u.%08x", hex, host_id, (long)getpid(),
             atomic_fetch_add(&temp_counter, 1), rnd);
}

int cache_temp_stale(const char *name, const struct stat *st) {
    if (strncmp(name, CACHE_TMP_PREFIX, strlen(CACHE_TMP_PREFIX)) != 0) return 0;
    if (now_s() - (int64_t)st->st_mtime > STALE_TEMP_SECONDS) return 1;
    pthread_once(&host_once, host_init);
    char host[9];
    long pid;
    if (sscanf(name + strlen(CACHE_TMP_PREFIX), "%*16[0-9a-f].%8[0-9a-f].%ld.", host, &pid) != 2)
        return 0;
    return strcmp(host, host_id) == 0 && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* write() with the test hook's failure. */
static int write_all(int fd, const void *buf, size_t n, uint64_t *written, const cache_test_hooks *hk) {
    const uint8_t *p = buf;
    while (n) {
        size_t chunk = n;
        if (hk && hk->fail_write_after >= 0) {
            if (*written >= (uint64_t)hk->fail_write_after) {
                errno = hk->fail_errno ? hk->fail_errno : EIO;
                return 0;
            }
            if (chunk > (uint64_t)hk->fail_write_after - *written)
                chunk = (size_t)((uint64_t)hk->fail_write_after - *written);
        }
        ssize_t r = write(fd, p, chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return 0;
        if (r == 0) {
            errno = ENOSPC;
            return 0;
        }
        p += r, n -= (size_t)r, *written += (uint64_t)r;
    }
    return 1;
}

static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Write the entry; 0 with errno and *what naming the step on failure. */
static int disk_write(cache_dir *d, const cache_key *key, const void *cubin, size_t size,
                      const char **what) {
    cache_test_hooks hooks;
    pthread_mutex_lock(&d->mu);
    int has_hooks = d->has_hooks;
    hooks = d->hooks;
    pthread_mutex_unlock(&d->mu);
    const cache_test_hooks *hk = has_hooks ? &hooks : NULL;

    char dir[4096], tmp[4096], final[4096], name[128];
    snprintf(dir, sizeof dir, "%s/%.2s", d->v1, key->hex);
    temp_name(key->hex, name, sizeof name);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/%s%s", dir, CACHE_TMP_PREFIX, name) >= sizeof tmp ||
        !cache_entry_path(d, key->hex, final, sizeof final)) {
        *what = "path";
        errno = ENAMETOOLONG;
        return 0;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        *what = "mkdir";
        return 0;
    }
    uint32_t hs;
    uint8_t *head = cache_entry_header(key, cubin, size, &hs);
    if (!head) {
        *what = "allocate";
        errno = ENOMEM;
        return 0;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        free(head);
        *what = "create";
        return 0;
    }
    uint64_t written = 0;
    size_t half = size / 2;
    int ok = write_all(fd, head, hs, &written, hk) && write_all(fd, cubin, half, &written, hk);
    if (ok && hk && hk->mid_write) hk->mid_write(hk->user);
    ok = ok && write_all(fd, (const uint8_t *)cubin + half, size - half, &written, hk);
    *what = "write";
    if (ok) {
        ok = fsync(fd) == 0;
        *what = "fsync";
    }
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
        *what = "close";
    }
    free(head);
    if (ok) {
        ok = rename(tmp, final) == 0;
        e = errno;
        *what = "rename";
    }
    if (!ok) {
        unlink(tmp);
        errno = e;
        return 0;
    }
    fsync_dir(dir);   /* the rename itself survives a crash */
    return 1;
}

/* ---- eviction --------------------------------------------------------------- */

typedef struct scan_item {
    char *path;
    uint64_t bytes;
    struct timespec atime;
} scan_item;

typedef struct evict_scan {
    scan_item *items;
    size_t n, cap;
    uint64_t total;
    int oom;
} evict_scan;

static int evict_collect(const char *path, const char *name, const struct stat *st,
                         cache_file_kind kind, void *user) {
    evict_scan *s = user;
    if (kind == CACHE_FILE_TEMP) {
        if (cache_temp_stale(name, st)) unlink(path);
        return 0;
    }
    if (kind != CACHE_FILE_ENTRY) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        scan_item *p = realloc(s->items, cap * sizeof *p);
        if (!p) {
            s->oom = 1;
            return 1;
        }
        s->items = p;
        s->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) {
        s->oom = 1;
        return 1;
    }
    s->items[s->n++] = (scan_item){copy, (uint64_t)st->st_size, st->st_atim};
    s->total += (uint64_t)st->st_size;
    return 0;
}

static int older_first(const void *a, const void *b) {
    const scan_item *x = a, *y = b;
    if (x->atime.tv_sec != y->atime.tv_sec) return x->atime.tv_sec < y->atime.tv_sec ? -1 : 1;
    if (x->atime.tv_nsec != y->atime.tv_nsec) return x->atime.tv_nsec < y->atime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* After a put of `bytes` for `hex`: rescan when our estimate says the
 * bound may be passed (or every minute / 64 puts, since other processes
 * write too), then evict the least recently used until under the bound.
 * The entry just written is kept. */
static void evict(cache_dir *d, const char *hex, uint64_t bytes) {
    pthread_mutex_lock(&d->mu);
    d->est_bytes += bytes;
    d->puts_since_scan++;
    uint64_t max = d->max_bytes;
    int scan = !d->scanned || d->est_bytes > max || d->puts_since_scan >= RESCAN_PUTS ||
               now_s() - d->last_scan >= RESCAN_SECONDS;
    if (scan) {
        d->scanned = 1;
        d->puts_since_scan = 0;
        d->last_scan = now_s();
    }
    pthread_mutex_unlock(&d->mu);
    if (!scan) return;

    evict_scan s = {0};
    cache_scan(d, evict_collect, &s);
    if (!s.oom && s.total > max) {
        char keep[4096];
        if (!cache_entry_path(d, hex, keep, sizeof keep)) keep[0] = '\0';
        qsort(s.items, s.n, sizeof *s.items, older_first);
        for (size_t i = 0; i < s.n && s.total > max; i++) {
            if (strcmp(s.items[i].path, keep) == 0) continue;
            if (unlink(s.items[i].path) != 0 && errno != ENOENT) continue;
            s.total -= s.items[i].bytes;
            /* its lock file goes too, unless someone holds it */
            const char *base = strrchr(s.items[i].path, '/');
            char hx[65], lp[4096];
            if (base && strlen(base + 1) > 64) {
                memcpy(hx, base + 1, 64);
                hx[64] = '\0';
                if (cache_lock_path(d, hx, lp, sizeof lp)) cache_lock_file_remove(lp);
            }
        }
    }
    pthread_mutex_lock(&d->mu);
    if (!s.oom) d->est_bytes = s.total;
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < s.n; i++) free(s.items[i].path);
    free(s.items);
}

tj_status cache_put(cache_dir *d, const cache_key *key, const void *cubin, size_t size) {
    tj_status st = cache_check_key("cache_put", d, key);
    if (st != TJ_OK) return st;
    if (!cubin || size == 0)
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_put: the cubin is %s", cubin ? "empty" : "NULL");
    if (!key->desc || strlen(key->desc) > CACHE_DESC_MAX)
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_put: the key has no description");
    if (!cache_dir_writable(d)) {
        if (!mem_put(d, key->hex, cubin, size))
            return tj_set_error(TJ_ERR_NO_MEMORY, "cache_put: out of memory for %zu bytes", size);
        return TJ_OK;
    }
    const char *what = "";
    if (!disk_write(d, key, cubin, size, &what)) {
        int e = errno;
        mem_put(d, key->hex, cubin, size);
        warn_once(&warned_write, "cannot write to the kernel cache %s (%s: %s); new kernels are "
                  "kept in memory", d->root, what, strerror(e));
        return tj_set_error(TJ_ERR_IO, "cache_put: %s failed for key %.16s... in %s: %s "
                            "(the entry is kept in memory)", what, key->hex, d->root, strerror(e));
    }
    evict(d, key->hex, size + cache_header_size(strlen(key->desc)));
    char ver[32];
    desc_compiler(key->desc, ver, sizeof ver);
    stamp_update(d, ver);
    return TJ_OK;
}

