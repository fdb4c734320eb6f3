/*
 * kernel_bg.c — background compiles (TJ_KERNEL_BACKGROUND): a queue of
 * PENDING entries drained by up to KERNEL_BG_WORKERS threads per kernel.
 * Workers exit when the queue is empty, so an idle kernel holds no thread;
 * tj_kernel_destroy waits for the queue and joins them.
 */
#include <stdlib.h>

#include "ir.h"
#include "kernel_int.h"

typedef struct kjob {
    kentry *e;
    struct kjob *next;
} kjob;

struct kbg {
    pthread_mutex_t mu;
    pthread_cond_t idle;       /* the queue emptied and a worker exited */
    kjob *head, *tail;
    int nrunning;
    struct {
        pthread_t t;
        int state;             /* 0 never used, 1 running, 2 exited (join it) */
    } w[KERNEL_BG_WORKERS];
};

typedef struct warg {
    tj_kernel *k;
    int slot;
} warg;

tj_status kernel_bg_create(tj_kernel *k) {
    kbg *b = calloc(1, sizeof *b);
    if (!b) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: out of memory");
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: cannot make a mutex");
    }
    if (pthread_cond_init(&b->idle, NULL) != 0) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_create: cannot make a condition");
    }
    k->bg = b;
    return TJ_OK;
}

static kjob *pop(kbg *b) {
    kjob *j = b->head;
    if (j) {
        b->head = j->next;
        if (!b->head) b->tail = NULL;
    }
    return j;
}

static void *worker(void *arg) {
    warg a = *(warg *)arg;
    free(arg);
    kbg *b = a.k->bg;
    pthread_mutex_lock(&b->mu);
    for (kjob *j; (j = pop(b)) != NULL;) {
        pthread_mutex_unlock(&b->mu);
        kernel_resolve(a.k, j->e, 1);
        free(j);
        pthread_mutex_lock(&b->mu);
    }
    b->w[a.slot].state = 2;
    b->nrunning--;
    pthread_cond_broadcast(&b->idle);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Under b->mu: start a worker in a free slot; 0 when none could start. */
static int spawn(tj_kernel *k) {
    kbg *b = k->bg;
    for (int i = 0; i < KERNEL_BG_WORKERS; i++) {
        if (b->w[i].state == 1) continue;
        if (b->w[i].state == 2) pthread_join(b->w[i].t, NULL);
        b->w[i].state = 0;
        warg *a = malloc(sizeof *a);
        if (!a) return 0;
        *a = (warg){k, i};
        if (pthread_create(&b->w[i].t, NULL, worker, a) != 0) {
            free(a);
            return 0;
        }
        b->w[i].state = 1;
        b->nrunning++;
        return 1;
    }
    return 0;
}

tj_status kernel_bg_submit(tj_kernel *k, kentry *e) {
    kbg *b = k->bg;
    kjob *j = calloc(1, sizeof *j);
    if (!j)
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_kernel_launch(graph '%s'): out of memory",
                            k->g->name);
    j->e = e;
    pthread_mutex_lock(&b->mu);
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    kjob *orphans = NULL;
    if (b->nrunning < KERNEL_BG_WORKERS && !spawn(k) && b->nrunning == 0) {
        /* No thread, and nobody to drain the queue: resolve here. */
        orphans = b->head;
        b->head = b->tail = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    while (orphans) {
        kjob *next = orphans->next;
        kernel_resolve(k, orphans->e, 1);
        free(orphans);
        orphans = next;
    }
    return TJ_OK;
}

void kernel_wait_background(tj_kernel *k) {
    kbg *b = k ? k->bg : NULL;
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    while (b->head || b->nrunning > 0) pthread_cond_wait(&b->idle, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

void kernel_bg_destroy(tj_kernel *k) {
    kbg *b = k->bg;
    if (!b) return;
    kernel_wait_background(k);
    for (int i = 0; i < KERNEL_BG_WORKERS; i++)
        if (b->w[i].state == 2) pthread_join(b->w[i].t, NULL);
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->mu);
    free(b);
    k->bg = NULL;
}
