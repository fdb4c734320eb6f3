/*
 * cache.h — key -> cubin: the cache key, the on-disk store and read-only
 * bundles. Internal to libtilejit (runtime layer). docs/cache.md has the
 * formats.
 *
 * The key (DESIGN.md): SHA-256 over a canonical description of everything
 * that shaped the cubin. cache_key_describe writes that description as
 * text, one "component=value" line each, so `tilejit cache explain` can
 * say which component differs; the key is the SHA-256 of the text.
 */
#ifndef TJ_CACHE_H
#define TJ_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tilejit.h"

#define CACHE_CODEGEN_VERSION 1   /* bump when emitted code changes */

typedef struct cache_key {
    char hex[65];          /* SHA-256 of desc, lowercase hex */
    char *desc;            /* malloc'd "graph=<sha>\nsymbols=...\narch=...\n..." */
} cache_key;

/* Components: the graph (its canonical text hash), the specialized
 * symbol values (exact value, bucket, or "dynamic"), the schedule and its
 * config ("generic"), arch, NVRTC version, compile options, codegen
 * version, templates hash. `spec_vals` are the specialized values (use
 * cache_specialize). */
tj_status cache_key_make(const tj_graph *g, const int64_t *spec_vals, const char *schedule,
                         const char *arch, const char *nvrtc_version, const char *options,
                         cache_key *out);
void cache_key_free(cache_key *k);
/* The specialized values: exact -> value, bucket -> bucket, dynamic ->
 * TJ_UNBOUND. */
void cache_specialize(const tj_graph *g, const int64_t *sym_vals, int64_t *spec_vals);

/* ---- disk store ------------------------------------------------------ */

typedef struct cache_dir cache_dir;

/* Open (creating it if needed) the cache directory; NULL path: the
 * default ($TILEJIT_CACHE_DIR, $XDG_CACHE_HOME/tilejit, ~/.cache/tilejit).
 * An unusable directory is not an error: *out is a memory-only handle and
 * one warning is printed (stderr) per process. Max bytes from
 * TILEJIT_CACHE_MAX_BYTES (default 1 GiB). */
tj_status cache_dir_open(const char *path, cache_dir **out);
void cache_dir_close(cache_dir *d);
const char *cache_dir_path(const cache_dir *d);   /* NULL when memory only */

/* Read the entry for key: TJ_OK with a malloc'd copy of the cubin, or
 * TJ_ERR_IO "miss". A corrupt, truncated or future-format entry is
 * reported once (stderr), removed, and is a miss. Touches the entry for
 * LRU. */
tj_status cache_get(cache_dir *d, const cache_key *key, void **cubin, size_t *size);
/* Write atomically (temporary file + rename); evicts least recently used
 * entries past the size bound. Failure to write is not fatal: TJ_ERR_IO
 * with a message, the caller keeps going from memory. */
tj_status cache_put(cache_dir *d, const cache_key *key, const void *cubin, size_t size);

/* Single flight across processes: hold an exclusive lock for key while
 * compiling; a second process waits on it, then finds the entry. The
 * lock is released with cache_unlock (and by the OS if we die). */
tj_status cache_lock(cache_dir *d, const cache_key *key, int *fd);
void cache_unlock(int fd);

/* ---- bundles -------------------------------------------------------- */

typedef struct cache_bundle cache_bundle;
tj_status cache_bundle_open(const char *path, cache_bundle **out);
void cache_bundle_close(cache_bundle *b);
/* A pointer into the bundle's memory (valid while it is open). */
tj_status cache_bundle_find(const cache_bundle *b, const char *key_hex, const void **cubin,
                            size_t *size);

/* Writing a bundle (tilejit prebuild). */
typedef struct cache_bundle_writer cache_bundle_writer;
tj_status cache_bundle_writer_open(const char *path, cache_bundle_writer **out);
tj_status cache_bundle_writer_add(cache_bundle_writer *w, const cache_key *key,
                                  const void *cubin, size_t size);
tj_status cache_bundle_writer_close(cache_bundle_writer *w);   /* writes and frees */

#endif
