/*
 * cache_entry.c — the entry file format of the disk store: building the
 * header and checking an entry before it is served. docs/cache.md has the
 * layout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cache_int.h"
#include "ir.h"



static int cache_read_full(int fd, void *buf, size_t n, uint64_t off) {
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return 1;
}

/* mkdir -p; 0 when the path is a directory at the end. */

/* ---- the entry format ----------------------------------------------------- */

uint32_t cache_header_size(size_t desc_len) {
    return (uint32_t)((CACHE_ENTRY_FIXED + desc_len + 15) & ~(size_t)15);
}

/* The header's own checksum: SHA-256 of every header byte but its own
 * field [136, 168): the first 136 bytes, then the description and its
 * padding ([168, header size)), so no damaged byte goes unseen. */
static void header_sha(const uint8_t *fixed, const void *rest, size_t n, uint8_t out[32]) {
    ir_sha256 s;
    ir_sha256_init(&s);
    ir_sha256_update(&s, fixed, 136);
    ir_sha256_update(&s, rest, n);
    ir_sha256_final(&s, out);
}

/* The whole header (malloc'd, *size bytes) for an entry. */
uint8_t *cache_entry_header(const cache_key *key, const void *payload, size_t size,
                             uint32_t *hsize) {
    size_t dl = strlen(key->desc);
    uint32_t hs = cache_header_size(dl);
    uint8_t *h = calloc(1, hs);
    if (!h) return NULL;
    memcpy(h, CACHE_ENTRY_MAGIC, 8);
    put_le32(h + 8, CACHE_FORMAT_VERSION);
    put_le32(h + 12, hs);
    put_le64(h + 16, size);
    put_le64(h + 24, (uint64_t)time(NULL));
    memcpy(h + 32, key->hex, 64);
    ir_sha256 s;
    ir_sha256_init(&s);
    ir_sha256_update(&s, payload, size);
    ir_sha256_final(&s, h + 96);
    put_le32(h + 128, (uint32_t)dl);
    memcpy(h + CACHE_ENTRY_FIXED, key->desc, dl);
    header_sha(h, h + CACHE_ENTRY_FIXED, hs - CACHE_ENTRY_FIXED, h + 136);
    *hsize = hs;
    return h;
}

#define BAD(state, ...) (snprintf(why, whysize, __VA_ARGS__), (state))

cache_entry_state cache_entry_read(int fd, uint64_t file_size, cache_entry_head *h, void **payload,
                                   char *why, size_t whysize) {
    memset(h, 0, sizeof *h);
    if (payload) *payload = NULL;
    uint8_t f[CACHE_ENTRY_FIXED];
    if (file_size < 16) return BAD(CACHE_ENTRY_DAMAGED, "truncated: %llu bytes", (unsigned long long)file_size);
    if (!cache_read_full(fd, f, 16, 0)) return BAD(CACHE_ENTRY_IO, "read failed: %s", strerror(errno));
    if (memcmp(f, CACHE_ENTRY_MAGIC, 8) != 0) return BAD(CACHE_ENTRY_DAMAGED, "not a tilejit cache entry (bad magic)");
    h->version = get_le32(f + 8);
    if (h->version > CACHE_FORMAT_VERSION)
        return BAD(CACHE_ENTRY_FUTURE, "format %u, newer than this tilejit's %u", h->version,
                   CACHE_FORMAT_VERSION);
    if (h->version == 0) return BAD(CACHE_ENTRY_DAMAGED, "format 0");
    if (file_size < CACHE_ENTRY_FIXED)
        return BAD(CACHE_ENTRY_DAMAGED, "truncated: %llu bytes", (unsigned long long)file_size);
    if (!cache_read_full(fd, f, CACHE_ENTRY_FIXED, 0)) return BAD(CACHE_ENTRY_IO, "read failed: %s", strerror(errno));
    h->header_size = get_le32(f + 12);
    h->payload_size = get_le64(f + 16);
    h->created = (int64_t)get_le64(f + 24);
    uint32_t dl = get_le32(f + 128);
    if (dl > CACHE_DESC_MAX || h->header_size != cache_header_size(dl))
        return BAD(CACHE_ENTRY_DAMAGED, "bad header (size %u, description %u bytes)", h->header_size, dl);
    if (file_size < h->header_size)
        return BAD(CACHE_ENTRY_DAMAGED, "truncated: %llu bytes", (unsigned long long)file_size);
    size_t rest = h->header_size - CACHE_ENTRY_FIXED;   /* description and padding */
    char *desc = malloc(rest + 1);
    if (!desc) return BAD(CACHE_ENTRY_IO, "out of memory");
    if (!cache_read_full(fd, desc, rest, CACHE_ENTRY_FIXED)) {
        free(desc);
        return BAD(CACHE_ENTRY_IO, "read failed: %s", strerror(errno));
    }
    uint8_t sha[32];
    header_sha(f, desc, rest, sha);
    desc[dl] = '\0';
    cache_entry_state st = CACHE_ENTRY_OK;
    if (memcmp(sha, f + 136, 32) != 0) {
        st = BAD(CACHE_ENTRY_DAMAGED, "header checksum mismatch");
    } else if (file_size - h->header_size != h->payload_size) {
        st = BAD(CACHE_ENTRY_DAMAGED, "%s: %llu payload bytes of %llu",
                 file_size - h->header_size < h->payload_size ? "truncated" : "trailing bytes",
                 (unsigned long long)(file_size - h->header_size),
                 (unsigned long long)h->payload_size);
    } else if (memchr(desc, '\0', dl)) {
        st = BAD(CACHE_ENTRY_DAMAGED, "description holds a NUL byte");
    } else {
        memcpy(h->hex, f + 32, 64);
        h->hex[64] = '\0';
        char k[65];
        cache_desc_key(desc, dl, k);
        if (strcmp(k, h->hex) != 0) st = BAD(CACHE_ENTRY_DAMAGED, "key does not match its description");
    }
    memcpy(h->payload_sha, f + 96, 32);
    if (st == CACHE_ENTRY_OK && payload) {
        void *p = malloc(h->payload_size ? h->payload_size : 1);
        if (!p) {
            st = BAD(CACHE_ENTRY_IO, "out of memory for %llu bytes", (unsigned long long)h->payload_size);
        } else if (!cache_read_full(fd, p, h->payload_size, h->header_size)) {
            st = BAD(CACHE_ENTRY_IO, "read failed: %s", strerror(errno));
            free(p);
        } else {
            ir_sha256 s;
            ir_sha256_init(&s);
            ir_sha256_update(&s, p, h->payload_size);
            ir_sha256_final(&s, sha);
            if (memcmp(sha, h->payload_sha, 32) != 0) {
                st = BAD(CACHE_ENTRY_DAMAGED, "payload checksum mismatch");
                free(p);
            } else {
                *payload = p;
            }
        }
    }
    if (st == CACHE_ENTRY_OK)
        h->desc = desc;
    else
        free(desc);
    return st;
}

