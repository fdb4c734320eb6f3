/*
 * cache_admin.c — what `tilejit cache ls|stats|verify|clear|explain` needs:
 * listing, statistics, full verification, clearing, and finding the
 * nearest entry to a key that missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "cache_int.h"
#include "ir.h"

/* Reading an entry to list or verify it is not a use: O_NOATIME keeps
 * its atime (the LRU clock) where the file system would otherwise move it
 * (relatime). Refused for files of another user: then a plain open. */
static int open_quiet(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd;
}

/* ---- listing ---------------------------------------------------------- */

typedef struct list_state {
    cache_entry_info *e;
    size_t n, cap;
    int oom;
} list_state;

/* Fill info from the header of the entry at path. */
static void read_info(const char *path, const struct stat *st, cache_entry_info *info) {
    memset(info, 0, sizeof *info);
    info->path = strdup(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(info->hex, sizeof info->hex, "%.64s", base);
    info->file_bytes = (uint64_t)st->st_size;
    info->last_used = (int64_t)st->st_atime;
    int fd = open_quiet(path);
    if (fd < 0) return;
    cache_entry_head h;
    char why[160];
    if (cache_entry_read(fd, (uint64_t)st->st_size, &h, NULL, why, sizeof why) == CACHE_ENTRY_OK) {
        info->desc = h.desc;
        info->payload_bytes = h.payload_size;
        info->created = h.created;
    }
    close(fd);
}

static int list_add(const char *path, const char *name, const struct stat *st,
                    cache_file_kind kind, void *user) {
    (void)name;
    list_state *s = user;
    if (kind != CACHE_FILE_ENTRY) return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        cache_entry_info *p = realloc(s->e, cap * sizeof *p);
        if (!p) {
            s->oom = 1;
            return 1;
        }
        s->e = p;
        s->cap = cap;
    }
    read_info(path, st, &s->e[s->n]);
    if (!s->e[s->n].path) {
        s->oom = 1;
        return 1;
    }
    s->n++;
    return 0;
}

static int newest_first(const void *a, const void *b) {
    const cache_entry_info *x = a, *y = b;
    if (x->last_used != y->last_used) return x->last_used > y->last_used ? -1 : 1;
    return strcmp(x->hex, y->hex);
}

void cache_list_free(cache_entry_info *e, size_t n) {
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].desc);
        free(e[i].path);
    }
    free(e);
}

tj_status cache_list(cache_dir *d, cache_entry_info **out, size_t *n) {
    if (!d || !out || !n) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_list: NULL argument");
    *out = NULL;
    *n = 0;
    list_state s = {0};
    cache_scan(d, list_add, &s);
    if (s.oom) {
        cache_list_free(s.e, s.n);
        return tj_set_error(TJ_ERR_NO_MEMORY, "cache_list: out of memory");
    }
    if (s.n) qsort(s.e, s.n, sizeof *s.e, newest_first);
    *out = s.e;
    *n = s.n;
    return TJ_OK;
}

/* ---- statistics ----------------------------------------------------------- */

static int stats_add(const char *path, const char *name, const struct stat *st,
                     cache_file_kind kind, void *user) {
    (void)path, (void)name;
    cache_stats *s = user;
    if (kind == CACHE_FILE_TEMP) s->temp_files++;
    if (kind == CACHE_FILE_LOCK) s->lock_files++;
    if (kind != CACHE_FILE_ENTRY) return 0;
    s->entries++;
    s->bytes += (uint64_t)st->st_size;
    int64_t t = (int64_t)st->st_atime;
    if (!s->oldest_use || t < s->oldest_use) s->oldest_use = t;
    if (t > s->newest_use) s->newest_use = t;
    return 0;
}

tj_status cache_stats_get(cache_dir *d, cache_stats *out) {
    if (!d || !out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_stats_get: NULL argument");
    memset(out, 0, sizeof *out);
    cache_scan(d, stats_add, out);
    pthread_mutex_lock(&d->mu);
    out->max_bytes = d->max_bytes;
    out->memory_entries = d->nmem;
    out->memory_bytes = d->mem_bytes;
    pthread_mutex_unlock(&d->mu);
    return TJ_OK;
}

/* ---- verification --------------------------------------------------------- */

typedef struct verify_state {
    int repair;
    cache_report_fn report;
    void *user;
    size_t ok, bad;
} verify_state;

static int verify_one(const char *path, const char *name, const struct stat *st,
                      cache_file_kind kind, void *user) {
    verify_state *v = user;
    if (kind == CACHE_FILE_TEMP) {
        if (v->repair && cache_temp_stale(name, st)) unlink(path);
        return 0;
    }
    if (kind != CACHE_FILE_ENTRY) return 0;
    int fd = open_quiet(path);
    if (fd < 0) return 0;   /* evicted meanwhile */
    cache_entry_head h;
    void *payload = NULL;
    char why[200];
    cache_entry_state es = cache_entry_read(fd, (uint64_t)st->st_size, &h, &payload, why, sizeof why);
    if (es == CACHE_ENTRY_OK && strncmp(name, h.hex, 64) != 0) {
        es = CACHE_ENTRY_DAMAGED;
        snprintf(why, sizeof why, "the file name does not match its key %.16s...", h.hex);
    }
    free(payload);
    free(h.desc);
    close(fd);
    if (es == CACHE_ENTRY_OK) {
        v->ok++;
        return 0;
    }
    v->bad++;
    if (es == CACHE_ENTRY_FUTURE) {
        char t[240];
        snprintf(t, sizeof t, "from a newer tilejit: %s", why);
        if (v->report) v->report(path, t, v->user);
    } else if (v->report) {
        v->report(path, why, v->user);
    }
    if (v->repair && es != CACHE_ENTRY_IO) unlink(path);
    return 0;
}

tj_status cache_verify_all(cache_dir *d, int repair, cache_report_fn report, void *user,
                           size_t *nok, size_t *nbad) {
    if (!d) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_verify_all: the cache handle is NULL");
    verify_state v = {repair && cache_dir_writable(d), report, user, 0, 0};
    cache_scan(d, verify_one, &v);
    if (nok) *nok = v.ok;
    if (nbad) *nbad = v.bad;
    return TJ_OK;
}

/* ---- clearing ------------------------------------------------------------- */

static int clear_one(const char *path, const char *name, const struct stat *st,
                     cache_file_kind kind, void *user) {
    (void)name, (void)st;
    size_t *removed = user;
    if (kind == CACHE_FILE_LOCK) {
        cache_lock_file_remove(path);
    } else if (kind == CACHE_FILE_TEMP) {
        /* a live writer's file stays: its rename would fail otherwise */
        if (cache_temp_stale(name, st)) unlink(path);
    } else if (unlink(path) == 0) {
        (*removed)++;
    }
    return 0;
}

tj_status cache_clear(cache_dir *d, size_t *removed) {
    if (!d) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_clear: the cache handle is NULL");
    size_t n = 0;
    cache_mem_clear(d);
    if (d->root && !cache_dir_writable(d)) {
        if (removed) *removed = 0;
        return tj_set_error(TJ_ERR_IO, "cache_clear: %s is read-only", d->root);
    }
    cache_scan(d, clear_one, &n);
    pthread_mutex_lock(&d->mu);
    d->scanned = 0;
    d->est_bytes = 0;
    pthread_mutex_unlock(&d->mu);
    if (removed) *removed = n;
    return TJ_OK;
}

/* ---- explain -------------------------------------------------------------- */

/* How far an entry is from the wanted key: differing hashed components,
 * a different graph counting as several (an entry of the same graph at
 * other sizes is nearer than another graph at the same sizes). */
static int distance(const char *want, const char *have) {
    char *rep = NULL;
    int n = cache_desc_diff(want, have, &rep);
    int graph = rep && (strncmp(rep, "graph:", 6) == 0 || strstr(rep, "\ngraph:"));
    free(rep);
    return n < 0 ? 1 << 20 : n + 4 * graph;
}

typedef struct explain_state {
    const char *want;
    char want_hex[65];
    int best;       /* distance; INT_MAX-ish when none */
    cache_entry_info best_info;
    int exact, oom;
} explain_state;

/* Offer a candidate (ownership of info passes here). */
static void offer(explain_state *s, cache_entry_info *info) {
    if (!info->desc) {
        free(info->path);
        return;
    }
    int dist = distance(s->want, info->desc);
    if (strcmp(info->hex, s->want_hex) == 0) {
        s->exact = 1;
        dist = -1;
    }
    if (!s->best_info.path || dist < s->best ||
        (dist == s->best && info->last_used > s->best_info.last_used)) {
        free(s->best_info.desc);
        free(s->best_info.path);
        s->best_info = *info;
        s->best = dist;
    } else {
        free(info->desc);
        free(info->path);
    }
}

static int explain_one(const char *path, const char *name, const struct stat *st,
                       cache_file_kind kind, void *user) {
    (void)name;
    if (kind != CACHE_FILE_ENTRY) return 0;
    cache_entry_info info;
    read_info(path, st, &info);
    offer(user, &info);
    return 0;
}

tj_status cache_explain(cache_dir *d, cache_bundle *const *bundles, int nbundles,
                        const char *desc, cache_explanation *out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_explain: out is NULL");
    memset(out, 0, sizeof *out);
    if (!desc) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_explain: desc is NULL");
    if (nbundles < 0 || (nbundles > 0 && !bundles))
        return tj_set_error(TJ_ERR_INVALID_ARG, "cache_explain: bad bundle list");
    explain_state s = {0};
    s.want = desc;
    cache_desc_key(desc, strlen(desc), s.want_hex);
    if (d) cache_scan(d, explain_one, &s);
    for (int b = 0; b < nbundles; b++) {
        size_t n = cache_bundle_count(bundles[b]);
        for (size_t i = 0; i < n; i++) {
            cache_entry_info info;
            if (cache_bundle_entry(bundles[b], i, &info) == TJ_OK) offer(&s, &info);
        }
    }
    if (s.best_info.path) {
        out->found = 1;
        out->exact = s.exact;
        out->nearest = s.best_info;
        out->ndiff = cache_desc_diff(desc, s.best_info.desc, &out->report);
        if (out->ndiff < 0) {
            cache_explanation_free(out);
            return tj_set_error(TJ_ERR_NO_MEMORY, "cache_explain: out of memory");
        }
    } else {
        out->report = strdup("");
        if (!out->report) return tj_set_error(TJ_ERR_NO_MEMORY, "cache_explain: out of memory");
    }
    return TJ_OK;
}

void cache_explanation_free(cache_explanation *e) {
    if (!e) return;
    free(e->nearest.desc);
    free(e->nearest.path);
    free(e->report);
    memset(e, 0, sizeof *e);
}
