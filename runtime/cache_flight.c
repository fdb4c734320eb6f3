/*
 * cache_flight.c — one compile per key at a time, across threads and
 * processes (per-key lock files), and walking the directory's files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "cache_int.h"
#include "ir.h"

/* ---- locks ------------------------------------------------------------------ */

tj_status cache_lock(cache_dir *d, const cache_key *key, int *fd) {
    if (!fd) return tj_set_error(TJ_ERR_INVALID_ARG, "cache_lock: fd is NULL");
    *fd = -1;
    tj_status st = cache_check_key("cache_lock", d, key);
    if (st != TJ_OK) return st;
    char path[4096];
    if (!cache_dir_writable(d) || !cache_lock_path(d, key->hex, path, sizeof path)) return TJ_OK;
    /* A lock file may be removed (eviction, clear) while we wait on it:
     * we hold the lock only if the file we locked is still the one at the
     * path; else take the new one. */
    for (int tries = 0; tries < 1000; tries++) {
        int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (f < 0 && errno == ENOENT) {   /* locks/ was removed (clear): remake it */
            char *dir = cache_path_join(d->v1, "locks");
            if (dir) mkdir(dir, 0777);
            free(dir);
            f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        }
        if (f < 0) return TJ_OK;
        int r;
        while ((r = flock(f, LOCK_EX)) != 0 && errno == EINTR) {}
        if (r != 0) {   /* no locking here (ENOLCK...): go on without */
            close(f);
            return TJ_OK;
        }
        struct stat a, b;
        if (fstat(f, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fd = f;
            return TJ_OK;
        }
        close(f);
    }
    return TJ_OK;
}

void cache_unlock(int fd) {
    if (fd >= 0) close(fd);   /* closing drops the flock */
}

void cache_lock_file_remove(const char *path) {
    int f = open(path, O_RDWR | O_CLOEXEC);
    if (f < 0) return;
    /* Unlinked while we hold it: a waiter on this file sees the path gone
     * or changed and takes the new one (cache_lock). */
    if (flock(f, LOCK_EX | LOCK_NB) == 0) unlink(path);
    close(f);
}

/* ---- scanning --------------------------------------------------------------- */

static int is_hex2(const char *s) {
    for (int i = 0; i < 2; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[2] == '\0';
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int scan_one_dir(const char *dir, int locks, cache_scan_fn fn, void *user) {
    DIR *dh = opendir(dir);
    if (!dh) return 0;
    int stop = 0;
    struct dirent *de;
    while (!stop && (de = readdir(dh))) {
        cache_file_kind kind;
        if (locks && ends_with(de->d_name, ".lock"))
            kind = CACHE_FILE_LOCK;
        else if (!locks && strncmp(de->d_name, CACHE_TMP_PREFIX, strlen(CACHE_TMP_PREFIX)) == 0)
            kind = CACHE_FILE_TEMP;
        else if (!locks && ends_with(de->d_name, CACHE_SUFFIX) &&
                 cache_is_key_hex(de->d_name, strlen(de->d_name) - strlen(CACHE_SUFFIX)))
            kind = CACHE_FILE_ENTRY;
        else
            continue;
        char *p = cache_path_join(dir, de->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode)) stop = fn(p, de->d_name, &st, kind, user);
        free(p);
    }
    closedir(dh);
    return stop;
}

void cache_scan(const cache_dir *d, cache_scan_fn fn, void *user) {
    if (!d || !d->root) return;
    DIR *dh = opendir(d->v1);
    if (!dh) return;
    struct dirent *de;
    int stop = 0;
    while (!stop && (de = readdir(dh))) {
        int locks = strcmp(de->d_name, "locks") == 0;
        if (!locks && !is_hex2(de->d_name)) continue;
        char *p = cache_path_join(d->v1, de->d_name);
        if (p) stop = scan_one_dir(p, locks, fn, user);
        free(p);
    }
    closedir(dh);
}

