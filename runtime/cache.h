/*
 * cache.h — key -> cubin: the cache key, the on-disk store and read-only
 * bundles. Internal to libtilejit (runtime layer). docs/cache.md has the
 * formats and the guarantees.
 *
 * The key (DESIGN.md). cache_key_make writes a description of everything
 * that shaped the cubin as text, one "component=value" line each:
 *
 *   graph=<sha-256 of the canonical text>
 *   name=<graph name>
 *   symbols=seq=256 batch=dynamic      (specialized values, symbol id order)
 *   schedule=auto                       (emit_kernel's pick: a function of the rest)
 *   arch=sm_90a
 *   options=--gpu-architecture=sm_90a -std=c++17 -default-device
 *   codegen=<CACHE_CODEGEN_VERSION>
 *   templates=<tj_templates_hash()>
 *   backend=llvm 19.1.7 libdevice …     (only for a back end other than NVRTC)
 *   nvrtc=12.8                          (or "unknown")
 *
 * The key is the SHA-256 of every line but the last: the NVRTC version is
 * RECORDED in each entry (and shown by `tilejit cache explain`) but is not
 * hashed, because a cubin must be findable without loading NVRTC — a warm
 * start reads the disk cache before NVRTC is loaded, and with
 * TILEJIT_NO_COMPILE=1 it is never loaded. A cubin stays valid when the
 * compiler changes; `tilejit cache clear` rebuilds with a new one.
 *
 * Thread safety: every function may be called from many threads; a
 * cache_dir or cache_bundle may be shared by threads. Many processes may
 * share one directory (also on a network file system): readers never see a
 * partial entry (temporary file + rename) and every entry is checked
 * (checksums) before it is served.
 */
#ifndef TJ_CACHE_H
#define TJ_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tilejit.h"

/* The key's codegen line: this version and the code generator's digest
 * (codegen_digest.c, built by tools/embed.c --digest from gen/), so a
 * cubin made by one build of the generator is never served to another:
 * a cubin from the disk or a bundle gets its launch description by
 * emitting again, which must give the kernel it was compiled from. Bump
 * the version when the key's meaning changes. */
#define CACHE_CODEGEN_VERSION 3
const char *tj_codegen_digest(void);

/* ---- the key --------------------------------------------------------- */

typedef struct cache_key {
    char hex[65];          /* the key: SHA-256 (lowercase hex) of desc minus its nvrtc= line */
    char *desc;            /* malloc'd description (above); cache_key_free frees it */
} cache_key;

/* Components: the graph (its canonical text hash), the specialized symbol
 * values (exact value, bucket, or "dynamic"), the schedule and its config
 * ("auto" for emit_kernel's own pick), arch, NVRTC version (NULL: "unknown"; recorded, not
 * hashed), compile options, codegen version, templates hash. `spec_vals`
 * (tj_num_symbols entries; NULL when the graph has none) are the
 * specialized values: use cache_specialize. No string may hold a newline.
 * On failure out->desc is NULL. */
tj_status cache_key_make(const tj_graph *g, const int64_t *spec_vals, const char *schedule,
                         const char *arch, const char *nvrtc_version, const char *options,
                         cache_key *out);
/* The same with the graph's hash given (tj_graph_hash, computed once per
 * graph: it prints the whole graph). NULL: computed here. */
tj_status cache_key_make_hashed(const tj_graph *g, const char *graph_hash,
                                const int64_t *spec_vals, const char *schedule,
                                const char *arch, const char *nvrtc_version,
                                const char *options, cache_key *out);
/* The key of what compile_graph(g, arch, spec_vals) produces for the TRUE
 * symbol values `sym_vals`: specializes them, schedule "auto", options
 * from nvrtc_options (NVRTC need not be loaded). The one way the kernel,
 * prebuild and the CLI compute keys, so they agree. graph_hash may be
 * NULL; nvrtc_version may be NULL ("unknown"). */
tj_status cache_key_for_compile(const tj_graph *g, const char *graph_hash,
                                const int64_t *sym_vals, const char *arch,
                                const char *nvrtc_version, cache_key *out);
/* The same with the schedule named ("generic": the generic lowering forced,
 * as tiered kernels compile first; "auto" is cache_key_for_compile). */
tj_status cache_key_for_compile_as(const tj_graph *g, const char *graph_hash,
                                   const int64_t *sym_vals, const char *arch,
                                   const char *schedule, const char *nvrtc_version,
                                   cache_key *out);
/* The same description with a `backend=` line (before nvrtc=) naming a
 * back end other than NVRTC; backend NULL is cache_key_make_hashed. */
tj_status cache_key_make_backend(const tj_graph *g, const char *graph_hash,
                                 const int64_t *spec_vals, const char *schedule,
                                 const char *arch, const char *backend,
                                 const char *nvrtc_version, const char *options,
                                 cache_key *out);
/* The key of what tj_compile(..., TJ_COMPILE_BACKEND_LLVM) produces:
 * schedule "generic", options "llvm -O3", backend=jitlink_backend_id();
 * linker_version (nvJitLink's, recorded in the nvrtc= line, not hashed)
 * may be NULL. TJ_ERR_UNSUPPORTED in a library built without LLVM. */
tj_status cache_key_for_compile_llvm(const tj_graph *g, const char *graph_hash,
                                     const int64_t *sym_vals, const char *arch,
                                     const char *linker_version, cache_key *out);
/* A key from a description (explain, tests): out->desc is a copy. */
tj_status cache_key_from_desc(const char *desc, cache_key *out);
void cache_key_free(cache_key *k);   /* NULL or a zeroed key is fine */
/* The specialized values: exact -> value, bucket -> bucket, dynamic (and
 * unbound) -> TJ_UNBOUND. Arrays of tj_num_symbols(g) entries. */
void cache_specialize(const tj_graph *g, const int64_t *sym_vals, int64_t *spec_vals);

/* Compare two descriptions component by component (symbols name by
 * name). Returns the number of HASHED components that differ (a different
 * nvrtc= alone gives 0); *report (may be NULL) gets a malloc'd text, one
 * line per difference, e.g.
 *   "arch: wanted sm_90a, entry has sm_80\n"
 *   "symbols: seq wanted 256, entry has 128\n"
 * ("" when they agree). -1 on allocation failure. */
int cache_desc_diff(const char *want, const char *have, char **report);

/* ---- disk store ------------------------------------------------------ */

typedef struct cache_dir cache_dir;

/* Open (creating it if needed) the cache directory; NULL path: the
 * default ($TILEJIT_CACHE_DIR, $XDG_CACHE_HOME/tilejit, ~/.cache/tilejit);
 * "" : memory only, silently. A missing directory that cannot be created
 * is not an error: *out is a memory-only handle and one warning is printed
 * (stderr) per process. A directory that can be read but not written is
 * read-only: entries are served from it, new ones kept in memory (same one
 * warning). Max bytes from TILEJIT_CACHE_MAX_BYTES (default 1 GiB; K/M/G
 * suffixes; 0: no disk reads or writes). Fails only for NULL out or no
 * memory. Keep one handle per directory for the process if you can: the
 * memory store (below) is per handle. */
tj_status cache_dir_open(const char *path, cache_dir **out);
void cache_dir_close(cache_dir *d);                 /* NULL is fine */
const char *cache_dir_path(const cache_dir *d);     /* NULL when memory only */
int cache_dir_writable(const cache_dir *d);         /* 1: puts go to disk */
/* The size bound (bytes) for disk entries, and for the memory store. */
void cache_dir_set_max_bytes(cache_dir *d, uint64_t max_bytes);
uint64_t cache_dir_max_bytes(const cache_dir *d);

/* The compiler stamp (<root>/v1/compiler): the NVRTC version of the
 * newest compile written to the directory. A disk entry recorded with
 * another version is stale: a miss, rebuilt by the current compiler (so
 * the NVRTC version acts as part of the key without a lookup having to
 * load NVRTC to learn it). cache_put of a key with a known version moves
 * the stamp. "" when the directory has none. */
void cache_dir_compiler(cache_dir *d, char *buf, size_t size);

/* Read the entry for key: TJ_OK with a malloc'd copy of the cubin (the
 * caller frees it with free()), or TJ_ERR_IO "cache miss" (*cubin NULL).
 * Looks in the handle's memory store, then on disk. A corrupt, truncated
 * or future-format entry is reported once per process (stderr), removed,
 * and is a miss. An entry compiled by another NVRTC than the stamp's is
 * reported once and is a miss (kept: the rebuild replaces it). A disk hit
 * touches the entry (its atime) for LRU. */
tj_status cache_get(cache_dir *d, const cache_key *key, void **cubin, size_t *size);
/* Write atomically (temporary file, fsync, rename); then evicts least
 * recently used entries past the size bound. Memory-only and read-only
 * handles keep the entry in the memory store (TJ_OK). When a disk write
 * fails (disk full, I/O error) the entry is kept in memory too, and the
 * status is TJ_ERR_IO with a message (one warning per process on stderr):
 * not fatal, the caller keeps going and cache_get still finds it. */
tj_status cache_put(cache_dir *d, const cache_key *key, const void *cubin, size_t size);

/* Single flight across threads and processes: hold an exclusive flock()
 * on <dir>/v1/locks/<key>.lock while compiling; another thread or process
 * asking for the same key waits, then finds the entry with cache_get.
 * Different keys do not wait for each other. *fd is -1 (and the status
 * TJ_OK: go on without the lock) when the handle has no writable
 * directory or the file system cannot lock; single flight within the
 * process is then the caller's. Released by cache_unlock, and by the OS
 * if the process dies. Correctness never depends on the lock: it only
 * saves duplicate compiles. */
tj_status cache_lock(cache_dir *d, const cache_key *key, int *fd);
void cache_unlock(int fd);                          /* -1 is fine */

/* ---- listing, statistics, verification (tilejit cache ...) ----------- */

typedef struct cache_entry_info {
    char hex[65];
    char *desc;              /* malloc'd; NULL when the header is unreadable */
    char *path;              /* malloc'd: the entry file, or the bundle */
    uint64_t payload_bytes;  /* the cubin */
    uint64_t file_bytes;     /* header included */
    int64_t created;         /* unix seconds */
    int64_t last_used;       /* unix seconds (atime); bundles: 0 */
} cache_entry_info;

/* Every entry on disk (headers read, payloads not checked), most recently
 * used first. Free with cache_list_free. Memory-only: none. */
tj_status cache_list(cache_dir *d, cache_entry_info **out, size_t *n);
void cache_list_free(cache_entry_info *e, size_t n);

typedef struct cache_stats {
    uint64_t entries, bytes;   /* on disk (file sizes) */
    uint64_t max_bytes;
    uint64_t temp_files;       /* writes in progress or left by a dead process */
    uint64_t lock_files;
    uint64_t memory_entries, memory_bytes;   /* this handle's memory store */
    int64_t oldest_use, newest_use;          /* unix seconds; 0 when empty */
} cache_stats;
tj_status cache_stats_get(cache_dir *d, cache_stats *out);

/* Check every entry fully (header, key, checksums). `report` (may be
 * NULL) is called for each bad one with the file and what is wrong; with
 * `repair` bad entries and stale temporary files are removed. */
typedef void (*cache_report_fn)(const char *path, const char *problem, void *user);
tj_status cache_verify_all(cache_dir *d, int repair, cache_report_fn report, void *user,
                           size_t *nok, size_t *nbad);
/* Remove every entry, temporary file and unused lock file (and empty the
 * memory store). *removed (may be NULL) counts entries. */
tj_status cache_clear(cache_dir *d, size_t *removed);

typedef struct cache_bundle cache_bundle;

/* Why a key misses: the nearest entry (fewest differing components; then
 * the most recently used) on disk and in `bundles`. */
typedef struct cache_explanation {
    int exact;               /* an entry with this very key exists */
    int found;               /* there is an entry at all */
    int ndiff;               /* differing hashed components of the nearest */
    cache_entry_info nearest;   /* when found */
    char *report;            /* malloc'd, cache_desc_diff's text against the
                                nearest ("" when none; when exact, only a
                                recorded nvrtc= line may differ) */
} cache_explanation;
tj_status cache_explain(cache_dir *d, cache_bundle *const *bundles, int nbundles,
                        const char *desc, cache_explanation *out);
void cache_explanation_free(cache_explanation *e);

/* ---- bundles -------------------------------------------------------- */

/* Open a bundle (mmap'd, read-only; replace a bundle by rename, never
 * rewrite it in place). TJ_ERR_IO naming the file when it is missing,
 * truncated, of a newer format, or damaged in its header or index layout.
 * Cheap: the checksums of an entry are checked on its first use. */
tj_status cache_bundle_open(const char *path, cache_bundle **out);
void cache_bundle_close(cache_bundle *b);           /* NULL is fine */
const char *cache_bundle_path(const cache_bundle *b);
/* A pointer into the bundle's memory (valid while it is open): TJ_OK, or
 * TJ_ERR_IO for a miss or a damaged payload (its checksum is checked on
 * first use; damage is reported once on stderr). */
tj_status cache_bundle_find(const cache_bundle *b, const char *key_hex, const void **cubin,
                            size_t *size);
/* Check everything now (tilejit cache verify): the index checksum and
 * every entry. TJ_ERR_IO when anything is damaged; *nbad (may be NULL)
 * counts damaged entries, which later finds refuse. */
tj_status cache_bundle_verify(const cache_bundle *b, size_t *nbad);
/* Entries in key order, for listing and explain. */
size_t cache_bundle_count(const cache_bundle *b);
tj_status cache_bundle_entry(const cache_bundle *b, size_t i, cache_entry_info *info);

/* Writing a bundle (tilejit prebuild). Payloads are kept in memory until
 * close, which writes a temporary file and renames it over `path`. add is
 * thread-safe; adding a key twice keeps the first. */
typedef struct cache_bundle_writer cache_bundle_writer;
tj_status cache_bundle_writer_open(const char *path, cache_bundle_writer **out);
tj_status cache_bundle_writer_add(cache_bundle_writer *w, const cache_key *key,
                                  const void *cubin, size_t size);
tj_status cache_bundle_writer_close(cache_bundle_writer *w);   /* writes and frees */
void cache_bundle_writer_discard(cache_bundle_writer *w);      /* frees, writes nothing */

/* ---- testing -------------------------------------------------------- */

/* Fault injection for tests (tests/test_cache.c); never set otherwise. */
typedef struct cache_test_hooks {
    int64_t fail_write_after;   /* >= 0: writing an entry fails with errno
                                   fail_errno once this many bytes are written */
    int fail_errno;             /* e.g. ENOSPC */
    void (*mid_write)(void *user);   /* called with half the payload
                                        written, before fsync and rename */
    void *user;
} cache_test_hooks;
void cache_dir_set_test_hooks(cache_dir *d, const cache_test_hooks *h);   /* NULL: none */

#endif
