/*
 * cache_bundle.c — read-only bundles of prebuilt cubins (tilejit
 * prebuild): one file, mmap'd, an index sorted by key for binary search.
 * docs/cache.md has the format. At open: the header's checksum, the
 * layout, every entry's bounds and the order (cheap: opening is on the
 * warm-start path). On an entry's first use: its key against its
 * description and its payload's checksum (a bundle may hold thousands of
 * cubins, most never used by one process). cache_bundle_verify checks it
 * all, the index checksum too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cache_int.h"
#include "ir.h"

#define BUNDLE_MAGIC "TJBUNDLE"
#define BUNDLE_VERSION 1u
#define BUNDLE_HEADER 160u
#define BUNDLE_ENTRY 128u

static uint64_t align16(uint64_t x) { return (x + 15) & ~(uint64_t)15; }

static void sha(const void *p, size_t n, uint8_t out[32]) {
    ir_sha256 s;
    ir_sha256_init(&s);
    ir_sha256_update(&s, p, n);
    ir_sha256_final(&s, out);
}

/* ---- reading ------------------------------------------------------------ */

enum { UNCHECKED = 0, GOOD = 1, BAD = 2 };

struct cache_bundle {
    char *path;
    const uint8_t *map;
    size_t size;
    uint64_t count;
    const uint8_t *index;      /* count entries of BUNDLE_ENTRY bytes */
    const char *descs;
    uint64_t descs_size;
    atomic_uchar *state;       /* per entry: payload checksum UNCHECKED/GOOD/BAD */
};

const char *cache_bundle_path(const cache_bundle *b) { return b ? b->path : NULL; }
size_t cache_bundle_count(const cache_bundle *b) { return b ? (size_t)b->count : 0; }

static tj_status damaged(const char *path, const char *why) {
    return tj_set_error(TJ_ERR_IO, "bundle %s is damaged or not a tilejit bundle: %s", path, why);
}

/* Check everything but the payloads' checksums. */
static tj_status check(cache_bundle *b) {
    const uint8_t *m = b->map;
    const char *path = b->path;
    if (b->size < 16 || memcmp(m, BUNDLE_MAGIC, 8) != 0) return damaged(path, "bad magic");
    uint32_t version = get_le32(m + 8);
    if (version > BUNDLE_VERSION)
        return tj_set_error(TJ_ERR_IO, "bundle %s has format %u, newer than this tilejit's %u: "
                            "rebuild it with this version's tilejit prebuild", path, version, BUNDLE_VERSION);
    if (version == 0) return damaged(path, "format 0");
    if (b->size < BUNDLE_HEADER) return damaged(path, "truncated header");
    uint8_t d[32];
    sha(m, 128, d);
    if (memcmp(d, m + 128, 32) != 0) return damaged(path, "header checksum mismatch");
    uint64_t count = get_le64(m + 16), index_off = get_le64(m + 24), descs_off = get_le64(m + 32);
    uint64_t descs_size = get_le64(m + 40), payload_off = get_le64(m + 48), file_size = get_le64(m + 56);
    if (get_le32(m + 12) != BUNDLE_HEADER) return damaged(path, "bad header size");
    if (file_size != b->size) {
        char t[96];
        snprintf(t, sizeof t, "%s: %zu bytes of %llu", file_size > b->size ? "truncated" : "trailing bytes",
                 b->size, (unsigned long long)file_size);
        return damaged(path, t);
    }
    if (index_off != BUNDLE_HEADER || count > (b->size - index_off) / BUNDLE_ENTRY ||
        descs_off != index_off + count * BUNDLE_ENTRY || descs_size > b->size - descs_off ||
        payload_off != align16(descs_off + descs_size) || payload_off > b->size)
        return damaged(path, "bad layout");
    b->count = count;
    b->index = m + index_off;
    b->descs = (const char *)m + descs_off;
    b->descs_size = descs_size;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *e = b->index + i * BUNDLE_ENTRY;
        uint64_t off = get_le64(e + 64), size = get_le64(e + 72), doff = get_le64(e + 80);
        uint32_t dlen = get_le32(e + 88);
        if (!cache_is_key_hex((const char *)e, 64) ||
            (i && memcmp(e - BUNDLE_ENTRY, e, 64) >= 0) || off < payload_off || off > b->size || off % 16 ||
            size > b->size - off || doff > descs_size || dlen > descs_size - doff)
            return damaged(path, "bad index entry");
    }
    return TJ_OK;
}

tj_status cache_bundle_open(const char *path, cache_bundle **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_open: no path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tj_set_error(TJ_ERR_IO, "cannot open bundle %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tj_set_error(TJ_ERR_IO, "bundle %s is not a regular file", path);
    }
    if (st.st_size < 16) {
        close(fd);
        return damaged(path, "truncated");
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return tj_set_error(TJ_ERR_IO, "cannot map bundle %s: %s", path, strerror(e));
    cache_bundle *b = calloc(1, sizeof *b);
    if (b) b->path = strdup(path);
    if (!b || !b->path) {
        munmap(m, (size_t)st.st_size);
        free(b);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_open: out of memory");
    }
    b->map = m;
    b->size = (size_t)st.st_size;
    tj_status s = check(b);
    if (s == TJ_OK) {
        b->state = calloc(b->count ? b->count : 1, sizeof *b->state);
        if (!b->state) s = tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_open: out of memory");
    }
    if (s != TJ_OK) {
        cache_bundle_close(b);
        return s;
    }
    *out = b;
    return TJ_OK;
}

void cache_bundle_close(cache_bundle *b) {
    if (!b) return;
    if (b->map) munmap((void *)b->map, b->size);
    free(b->state);
    free(b->path);
    free(b);
}

/* An entry's own checks, done on its first use: its key is its
 * description's, its payload matches its checksum. With the bounds checked
 * at open, this covers any damage to what the entry uses. */
static int entry_intact(const cache_bundle *b, const uint8_t *e) {
    char k[65];
    cache_desc_key(b->descs + get_le64(e + 80), get_le32(e + 88), k);
    if (memcmp(k, e, 64) != 0) return 0;
    uint8_t d[32];
    sha(b->map + get_le64(e + 64), (size_t)get_le64(e + 72), d);
    return memcmp(d, e + 96, 32) == 0;
}

static int by_payload_offset(const void *a, const void *b) {
    uint64_t x = get_le64(*(const uint8_t *const *)a + 64), y = get_le64(*(const uint8_t *const *)b + 64);
    return x < y ? -1 : x > y;
}

/* The payload area's padding (between payloads and after the last) is
 * covered by no checksum: it must be zeros, as the writer leaves it. */
static int padding_zero(const cache_bundle *b) {
    uint64_t pos = get_le64(b->map + 48);
    const uint8_t **order = malloc(sizeof *order * (size_t)(b->count ? b->count : 1));
    if (!order) return 1;   /* no memory: skip this extra check */
    for (uint64_t i = 0; i < b->count; i++) order[i] = b->index + i * BUNDLE_ENTRY;
    qsort(order, (size_t)b->count, sizeof *order, by_payload_offset);
    int ok = 1;
    for (uint64_t i = 0; i <= b->count && ok; i++) {
        uint64_t end = i < b->count ? get_le64(order[i] + 64) : (uint64_t)b->size;
        for (; pos < end && ok; pos++) ok = b->map[pos] == 0;
        if (i < b->count) pos = end + get_le64(order[i] + 72);
    }
    free(order);
    return ok;
}

tj_status cache_bundle_verify(const cache_bundle *b, size_t *nbad) {
    if (!b) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_verify: the bundle is NULL");
    size_t bad = 0;
    uint64_t poff = get_le64(b->map + 48);
    uint8_t d[32];
    sha(b->map + BUNDLE_HEADER, (size_t)(poff - BUNDLE_HEADER), d);
    int index_ok = memcmp(d, b->map + 96, 32) == 0;
    for (uint64_t i = 0; i < b->count; i++) {
        const uint8_t *e = b->index + i * BUNDLE_ENTRY;
        int ok = entry_intact(b, e);
        atomic_store_explicit(&b->state[i], ok ? GOOD : BAD, memory_order_release);
        bad += !ok;
    }
    if (nbad) *nbad = bad;
    if (!index_ok) return damaged(b->path, "index checksum mismatch");
    if (!padding_zero(b)) return damaged(b->path, "padding between cubins is not zero");
    if (bad)
        return tj_set_error(TJ_ERR_IO, "bundle %s: %zu of %llu cubins are damaged", b->path, bad,
                            (unsigned long long)b->count);
    return TJ_OK;
}

tj_status cache_bundle_find(const cache_bundle *b, const char *key_hex, const void **cubin,
                            size_t *size) {
    if (!b || !key_hex || !cubin || !size)
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_find: NULL argument");
    *cubin = NULL;
    *size = 0;
    size_t lo = 0, hi = (size_t)b->count;
    if (strlen(key_hex) == 64) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const uint8_t *e = b->index + mid * BUNDLE_ENTRY;
            int c = memcmp(e, key_hex, 64);
            if (c < 0) {
                lo = mid + 1;
            } else if (c > 0) {
                hi = mid;
            } else {
                const uint8_t *p = b->map + get_le64(e + 64);
                size_t n = (size_t)get_le64(e + 72);
                unsigned char st = atomic_load_explicit(&b->state[mid], memory_order_acquire);
                if (st == UNCHECKED) {
                    st = entry_intact(b, e) ? GOOD : BAD;
                    atomic_store_explicit(&b->state[mid], st, memory_order_release);
                }
                if (st == BAD) {
                    char id[4200];
                    snprintf(id, sizeof id, "%s:%s", b->path, key_hex);
                    cache_report_once(id, "bundle %s: the cubin for key %s is damaged (checksum "
                                      "mismatch); it is not used", b->path, key_hex);
                    return tj_set_error(TJ_ERR_IO, "bundle %s: the cubin for key %s is damaged",
                                        b->path, key_hex);
                }
                *cubin = p;
                *size = n;
                return TJ_OK;
            }
        }
    }
    return tj_set_error(TJ_ERR_IO, "key %s is not in bundle %s", key_hex, b->path);
}

tj_status cache_bundle_entry(const cache_bundle *b, size_t i, cache_entry_info *info) {
    if (!b || !info) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_entry: NULL argument");
    memset(info, 0, sizeof *info);
    if (i >= b->count)
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_entry: entry %zu of %llu", i,
                            (unsigned long long)b->count);
    const uint8_t *e = b->index + i * BUNDLE_ENTRY;
    uint32_t dlen = get_le32(e + 88);
    memcpy(info->hex, e, 64);
    info->hex[64] = '\0';
    info->desc = malloc((size_t)dlen + 1);
    info->path = strdup(b->path);
    if (!info->desc || !info->path) {
        free(info->desc);
        free(info->path);
        memset(info, 0, sizeof *info);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_entry: out of memory");
    }
    memcpy(info->desc, b->descs + get_le64(e + 80), dlen);
    info->desc[dlen] = '\0';
    info->payload_bytes = get_le64(e + 72);
    info->file_bytes = info->payload_bytes;
    info->created = (int64_t)get_le64(b->map + 64);
    return TJ_OK;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct wentry {
    char hex[65];
    char *desc;
    void *data;
    size_t size;
} wentry;

struct cache_bundle_writer {
    char *path;
    pthread_mutex_t mu;
    wentry *e;
    size_t n, cap;
    tj_status failed;   /* an add ran out of memory: close fails */
};

tj_status cache_bundle_writer_open(const char *path, cache_bundle_writer **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_writer_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_writer_open: no path");
    cache_bundle_writer *w = calloc(1, sizeof *w);
    if (w) w->path = strdup(path);
    if (!w || !w->path) {
        free(w);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_writer_open: out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    *out = w;
    return TJ_OK;
}

tj_status cache_bundle_writer_add(cache_bundle_writer *w, const cache_key *key, const void *cubin,
                                  size_t size) {
    if (!w || !key || !key->desc || !cubin || !size)
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_writer_add: NULL or empty argument");
    if (!cache_is_key_hex(key->hex, strlen(key->hex)))
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_writer_add: bad key");
    wentry e = {{0}, strdup(key->desc), malloc(size), size};
    memcpy(e.hex, key->hex, 65);
    if (!e.desc || !e.data) {
        free(e.desc);
        free(e.data);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_writer_add: out of memory");
    }
    memcpy(e.data, cubin, size);
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->e[i].hex, e.hex) == 0) {   /* the same key again: keep the first */
            pthread_mutex_unlock(&w->mu);
            free(e.desc);
            free(e.data);
            return TJ_OK;
        }
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        wentry *p = realloc(w->e, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&w->mu);
            free(e.desc);
            free(e.data);
            return tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_writer_add: out of memory");
        }
        w->e = p;
        w->cap = cap;
    }
    w->e[w->n++] = e;
    pthread_mutex_unlock(&w->mu);
    return TJ_OK;
}

void cache_bundle_writer_discard(cache_bundle_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->e[i].desc);
        free(w->e[i].data);
    }
    free(w->e);
    free(w->path);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static int by_key(const void *a, const void *b) {
    return strcmp(((const wentry *)a)->hex, ((const wentry *)b)->hex);
}

static int write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        p += r, n -= (size_t)r;
    }
    return 1;
}

/* The header, index and descriptions (malloc'd, payload_off bytes). */
static uint8_t *build_meta(cache_bundle_writer *w, uint64_t *payload_off, uint64_t *file_size) {
    uint64_t descs_off = BUNDLE_HEADER + (uint64_t)w->n * BUNDLE_ENTRY, descs_size = 0;
    for (size_t i = 0; i < w->n; i++) descs_size += strlen(w->e[i].desc);
    uint64_t poff = align16(descs_off + descs_size), off = poff;
    uint8_t *m = calloc(1, (size_t)poff);
    if (!m) return NULL;
    uint64_t doff = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint8_t *e = m + BUNDLE_HEADER + i * BUNDLE_ENTRY;
        size_t dl = strlen(w->e[i].desc);
        memcpy(e, w->e[i].hex, 64);
        put_le64(e + 64, off);
        put_le64(e + 72, w->e[i].size);
        put_le64(e + 80, doff);
        put_le32(e + 88, (uint32_t)dl);
        sha(w->e[i].data, w->e[i].size, e + 96);
        memcpy(m + descs_off + doff, w->e[i].desc, dl);
        doff += dl;
        off = align16(off + w->e[i].size);
    }
    memcpy(m, BUNDLE_MAGIC, 8);
    put_le32(m + 8, BUNDLE_VERSION);
    put_le32(m + 12, BUNDLE_HEADER);
    put_le64(m + 16, w->n);
    put_le64(m + 24, BUNDLE_HEADER);
    put_le64(m + 32, descs_off);
    put_le64(m + 40, descs_size);
    put_le64(m + 48, poff);
    put_le64(m + 56, off);
    put_le64(m + 64, (uint64_t)time(NULL));
    sha(m + BUNDLE_HEADER, (size_t)(poff - BUNDLE_HEADER), m + 96);
    sha(m, 128, m + 128);
    *payload_off = poff;
    *file_size = off;
    return m;
}

tj_status cache_bundle_writer_close(cache_bundle_writer *w) {
    if (!w) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_writer_close: the writer is NULL");
    for (size_t i = 0; i < w->n; i++)
        if (strlen(w->e[i].desc) > UINT32_MAX) {
            cache_bundle_writer_discard(w);
            return tj_set_error(TJ_ERR_INVALID_ARG, "cache_bundle_writer_close: a description is too long");
        }
    if (w->n) qsort(w->e, w->n, sizeof *w->e, by_key);
    uint64_t poff, fsize;
    uint8_t *meta = build_meta(w, &poff, &fsize);
    if (!meta) {
        cache_bundle_writer_discard(w);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_writer_close: out of memory");
    }
    size_t plen = strlen(w->path);
    char *tmp = malloc(plen + 64);
    tj_status s = TJ_OK;
    if (!tmp) {
        s = tj_set_error(TJ_ERR_NO_MEMORY, "cache_bundle_writer_close: out of memory");
        goto done;
    }
    static atomic_uint counter;
    snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", w->path, (long)getpid(), atomic_fetch_add(&counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        s = tj_set_error(TJ_ERR_IO, "cannot write bundle %s: %s", tmp, strerror(errno));
        goto done;
    }
    static const uint8_t zeros[16];
    int ok = write_all(fd, meta, (size_t)poff);
    uint64_t off = poff;
    for (size_t i = 0; ok && i < w->n; i++) {
        ok = write_all(fd, w->e[i].data, w->e[i].size);
        off += w->e[i].size;
        if (ok && align16(off) != off) ok = write_all(fd, zeros, (size_t)(align16(off) - off));
        off = align16(off);
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) ok = 0, e = errno;
    if (ok && rename(tmp, w->path) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        s = tj_set_error(TJ_ERR_IO, "cannot write bundle %s: %s", w->path, strerror(e));
    }
done:
    free(tmp);
    free(meta);
    cache_bundle_writer_discard(w);
    return s;
}
