/*
 * cache_int.h — what runtime/cache_*.c share: the entry format, the
 * directory handle, scanning. Internal to the cache (cache.h is the
 * interface).
 */
#ifndef TJ_CACHE_INT_H
#define TJ_CACHE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cache.h"

/* ---- the key (cache_key.c) ----------------------------------------- */

/* The key of a description: SHA-256 of every line but nvrtc=. */
void cache_desc_key(const char *desc, size_t len, char hex[65]);
void cache_hex(const uint8_t *b, size_t n, char *out);   /* out: 2n + 1 bytes */
int cache_is_key_hex(const char *s, size_t n);           /* 64 lowercase hex digits */

/* ---- entries (cache_disk.c; docs/cache.md has the layout) ---------- */

#define CACHE_ENTRY_MAGIC "TJCACHE"   /* 8 bytes with its NUL */
#define CACHE_FORMAT_VERSION 1u
#define CACHE_ENTRY_FIXED 168u        /* header bytes before the description */
#define CACHE_DESC_MAX (1u << 20)
#define CACHE_SUFFIX ".tjc"
#define CACHE_TMP_PREFIX ".tmp."

typedef struct cache_entry_head {
    uint32_t version;
    uint32_t header_size;
    uint64_t payload_size;
    int64_t created;
    char hex[65];
    uint8_t payload_sha[32];
    char *desc;   /* malloc'd, NUL-terminated */
} cache_entry_head;

typedef enum cache_entry_state {
    CACHE_ENTRY_OK = 0,
    CACHE_ENTRY_DAMAGED,   /* truncated, checksum, key: remove and rebuild */
    CACHE_ENTRY_FUTURE,    /* a newer format */
    CACHE_ENTRY_IO         /* could not read: leave it alone */
} cache_entry_state;

/* Read and check the entry in fd (of `file_size` bytes): the header
 * always, the payload when `payload` is non-NULL (malloc'd, checksum
 * checked). `why` gets a short reason when not OK. h->desc is malloc'd on
 * success (free it); nothing is left allocated otherwise. */
cache_entry_state cache_entry_read(int fd, uint64_t file_size, cache_entry_head *h, void **payload,
                                   char *why, size_t whysize);

uint32_t cache_header_size(size_t desc_len);   /* fixed part + description, 16-aligned */
/* The whole header of an entry for key and payload (malloc'd, *hsize
 * bytes); NULL when out of memory. */
uint8_t *cache_entry_header(const cache_key *key, const void *payload, size_t size,
                            uint32_t *hsize);

/* ---- the directory handle ------------------------------------------ */

typedef struct cache_mem_entry {
    char hex[65];
    void *data;
    size_t size;
    uint64_t tick;   /* last use, for LRU */
} cache_mem_entry;

struct cache_dir {
    char *root;        /* NULL: memory only */
    char *v1;          /* <root>/v1 */
    int writable;
    uint64_t max_bytes;
    pthread_mutex_t mu;   /* guards the fields below */
    cache_mem_entry *mem;
    size_t nmem, capmem;
    uint64_t mem_bytes, tick;
    int scanned;          /* the directory was scanned once */
    uint64_t est_bytes;   /* disk bytes: the last scan plus our puts since */
    unsigned puts_since_scan;
    int64_t last_scan;
    cache_test_hooks hooks;
    int has_hooks;
    char compiler[32];    /* the stamp: NVRTC version of the newest compile
                             written here ("" when none); under mu */
};

/* ---- paths and checks (cache_disk.c) ------------------------------- */

char *cache_path_join(const char *a, const char *b);   /* malloc'd "a/b" */
/* <root>/v1/<ab>/<hex>.tjc and <root>/v1/locks/<hex>.lock; 0 when too long. */
int cache_entry_path(const cache_dir *d, const char *hex, char *buf, size_t size);
int cache_lock_path(const cache_dir *d, const char *hex, char *buf, size_t size);
/* TJ_ERR_INVALID_ARG naming `fn` for a NULL handle or a key without hex. */
tj_status cache_check_key(const char *fn, const cache_dir *d, const cache_key *key);

/* ---- scanning (cache_flight.c) ------------------------------------- */

typedef enum cache_file_kind { CACHE_FILE_ENTRY, CACHE_FILE_TEMP, CACHE_FILE_LOCK } cache_file_kind;

/* Call fn for every entry, temporary file and lock file under d (stat'd;
 * files that vanish are skipped). fn returns nonzero to stop. */
typedef int (*cache_scan_fn)(const char *path, const char *name, const struct stat *st,
                             cache_file_kind kind, void *user);
void cache_scan(const cache_dir *d, cache_scan_fn fn, void *user);
/* A temporary file left by a process that died (or older than an hour). */
int cache_temp_stale(const char *name, const struct stat *st);
/* Remove a lock file nobody holds (a held one stays). */
void cache_lock_file_remove(const char *path);
/* Forget the memory store. */
void cache_mem_clear(cache_dir *d);

/* Print a line on stderr once per process for `id` (an entry, a bundle
 * entry); the format gets a trailing newline. */
void cache_report_once(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Little-endian fields of the entry and bundle formats (docs/cache.md):
 * byte by byte, so the files read the same on any host. */
static inline void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t get_le32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static inline uint64_t get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

#endif
