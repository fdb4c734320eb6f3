/*
 * kernel_map.c — the specialization map: open addressing over entry
 * pointers, lock-free to read (kernel_int.h has the protocol).
 */
#include <stdlib.h>
#include <string.h>

#include "kernel_int.h"

#define KMAP_INITIAL 16

static kmap_table *table_new(size_t cap) {
    kmap_table *t = calloc(1, sizeof *t + cap * sizeof(_Atomic(kentry *)));
    if (!t) return NULL;
    t->mask = cap - 1;
    for (size_t i = 0; i < cap; i++) atomic_init(&t->slot[i], NULL);
    return t;
}

tj_status kmap_init(kmap *m, int nsym) {
    memset(m, 0, sizeof *m);
    m->nsym = nsym;
    kmap_table *t = table_new(KMAP_INITIAL);
    if (!t) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: out of memory");
    if (pthread_mutex_init(&m->wlock, NULL) != 0) {
        free(t);
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: cannot make a mutex");
    }
    atomic_init(&m->cur, t);
    return TJ_OK;
}

static int same_key(const kentry *e, uint64_t hash, int variant, const int64_t *v, int nsym) {
    if (e->hash != hash || e->variant != variant) return 0;
    for (int i = 0; i < nsym; i++)
        if (e->spec[i] != v[i]) return 0;
    return 1;
}

kentry *kmap_find(kmap *m, const kspec *s) {
    kmap_table *t = atomic_load_explicit(&m->cur, memory_order_acquire);
    for (size_t i = (size_t)s->hash & t->mask;; i = (i + 1) & t->mask) {
        kentry *e = atomic_load_explicit(&t->slot[i], memory_order_acquire);
        if (!e) return NULL;
        if (same_key(e, s->hash, s->variant, s->v, m->nsym)) return e;
    }
}

/* Under wlock: place e in t (which has room). */
static void place(kmap_table *t, kentry *e) {
    size_t i = (size_t)e->hash & t->mask;
    while (atomic_load_explicit(&t->slot[i], memory_order_relaxed)) i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slot[i], e, memory_order_release);
}

kentry *kmap_insert(kmap *m, kentry *e) {
    pthread_mutex_lock(&m->wlock);
    kmap_table *t = atomic_load_explicit(&m->cur, memory_order_relaxed);
    for (size_t i = (size_t)e->hash & t->mask;; i = (i + 1) & t->mask) {
        kentry *o = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
        if (!o) break;
        if (same_key(o, e->hash, e->variant, e->spec, m->nsym)) {
            pthread_mutex_unlock(&m->wlock);
            return o;
        }
    }
    if ((m->count + 1) * 2 > t->mask + 1) {
        /* Readers keep using the old table until they see the new one; it
         * holds everything the old one does before it is published. */
        kmap_table *n = table_new((t->mask + 1) * 2);
        if (!n) {
            pthread_mutex_unlock(&m->wlock);
            return NULL;
        }
        for (size_t i = 0; i <= t->mask; i++) {
            kentry *o = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
            if (o) place(n, o);
        }
        n->retired = t;
        atomic_store_explicit(&m->cur, n, memory_order_release);
        t = n;
    }
    place(t, e);
    m->count++;
    pthread_mutex_unlock(&m->wlock);
    return e;
}

size_t kmap_count(kmap *m) {
    pthread_mutex_lock(&m->wlock);
    size_t n = m->count;
    pthread_mutex_unlock(&m->wlock);
    return n;
}

void kmap_destroy(kmap *m) {
    kmap_table *t = atomic_load_explicit(&m->cur, memory_order_relaxed);
    while (t) {
        kmap_table *r = t->retired;
        free(t);
        t = r;
    }
    atomic_store_explicit(&m->cur, NULL, memory_order_relaxed);
    pthread_mutex_destroy(&m->wlock);
}
