/*
 * test_cache_procs.c — the cache with many processes: 16 at once on one
 * directory (each key compiled once), a writer killed with SIGKILL
 * mid-write, a real full file system and a read-only one (a small tmpfs in
 * a private mount namespace, where the test may mount; else SKIP — the
 * write-failure hook in test_cache.c covers the logic), and the one
 * warning per process.
 *
 * Children report through their exit code (0 good, 77 skip, else the line
 * of the failed check) and print why on stderr.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "cache_util.h"

#define CHILD_CHECK(cond)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "  child %d: %s:%d: %s failed (%s)\n", (int)getpid(), \
                    __FILE__, __LINE__, #cond, tj_last_error());                \
            _exit(__LINE__ % 250 + 1);                                          \
        }                                                                       \
    } while (0)

/* Wait for pid; its exit code, or 200 + signal. */
static int wait_child(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

static size_t key_size(int k) { return 1000 + (size_t)k * 3001 % 60000; }

/* ---- 16 processes, 20 keys ------------------------------------------- */

enum { PROCS = 16, KEYS = 20 };

/* One process: every key in a shuffled order; a miss takes the key's lock,
 * looks again, and only then "compiles" (logs to the shared count file,
 * sleeps like a compiler) and puts. */
static void worker(const char *dir, const char *count_path, int start_fd, uint64_t seed) {
    char c;
    CHILD_CHECK(read(start_fd, &c, 1) == 0);   /* the parent closes it: go */
    cache_dir *d = NULL;
    CHILD_CHECK(cache_dir_open(dir, &d) == TJ_OK && cache_dir_writable(d));
    int order[KEYS];
    for (int i = 0; i < KEYS; i++) order[i] = i;
    uint64_t s = seed;
    for (int i = KEYS - 1; i > 0; i--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((s >> 33) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    int count_fd = open(count_path, O_WRONLY | O_APPEND);
    CHILD_CHECK(count_fd >= 0);
    for (int i = 0; i < KEYS; i++) {
        int k = order[i];
        cache_key key;
        CHILD_CHECK(cu_key(7000 + k, &key));
        unsigned char *want = cu_payload((uint64_t)k, key_size(k));
        void *got = NULL;
        size_t n = 0;
        if (cache_get(d, &key, &got, &n) != TJ_OK) {
            int fd;
            CHILD_CHECK(cache_lock(d, &key, &fd) == TJ_OK && fd >= 0);
            if (cache_get(d, &key, &got, &n) != TJ_OK) {
                char line[32];
                int len = snprintf(line, sizeof line, "%d\n", k);
                CHILD_CHECK(write(count_fd, line, (size_t)len) == len);
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
                CHILD_CHECK(cache_put(d, &key, want, key_size(k)) == TJ_OK);
                CHILD_CHECK(cache_get(d, &key, &got, &n) == TJ_OK);
            }
            cache_unlock(fd);
        }
        CHILD_CHECK(n == key_size(k) && memcmp(got, want, n) == 0);
        free(got);
        free(want);
        cache_key_free(&key);
    }
    close(count_fd);
    cache_dir_close(d);
    _exit(0);
}

TEST(test_cache_16_processes_compile_each_key_once) {
    char dir[64], count_path[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    snprintf(count_path, sizeof count_path, "%s/compiles.log", dir);
    CHECK(cu_write_file(count_path, "", 0));
    char cache[128];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    int start[2];
    CHECK(pipe(start) == 0);
    fflush(NULL);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        uint64_t seed = harness_next();
        pids[p] = fork();
        CHECK(pids[p] >= 0);
        if (pids[p] == 0) {
            close(start[1]);
            worker(cache, count_path, start[0], seed);
        }
    }
    close(start[0]);
    close(start[1]);   /* every child starts now */
    int bad = 0;
    for (int p = 0; p < PROCS; p++) bad += wait_child(pids[p]) != 0;
    CHECK(bad == 0);
    size_t len;
    char *log = cu_read_file(count_path, &len);
    CHECK(log);
    int compiled[KEYS] = {0}, lines = 0;
    for (char *t = strtok(log, "\n"); t; t = strtok(NULL, "\n"), lines++) {
        int k = atoi(t);
        CHECK(k >= 0 && k < KEYS);
        compiled[k]++;
    }
    free(log);
    CHECKF(lines == KEYS, "%d compiles for %d keys", lines, KEYS);
    for (int k = 0; k < KEYS; k++) CHECKF(compiled[k] == 1, "key %d compiled %d times", k, compiled[k]);
    CHECK(cu_count_files(cache, ".tmp.") == 0);
    cache_dir *d;
    CHECK_OK(cache_dir_open(cache, &d));
    size_t ok, nbad;
    CHECK_OK(cache_verify_all(d, 0, NULL, NULL, &ok, &nbad));
    CHECK(ok == KEYS && nbad == 0);
    cache_dir_close(d);
    cu_rm_rf(dir);
}

/* ---- killed mid-write ------------------------------------------------- */

static int mid_write_fd = -1;
static void announce_and_hang(void *user) {
    (void)user;
    if (write(mid_write_fd, "w", 1) != 1) _exit(3);
    for (;;) pause();   /* killed here, with half the payload written */
}

/* A child starts writing `size` bytes for key (content from `seed`) and is
 * killed with SIGKILL halfway through. */
static int kill_mid_write(const char *dir, const cache_key *key, uint64_t seed, size_t size) {
    int p[2];
    if (pipe(p) != 0) return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        close(p[0]);
        mid_write_fd = p[1];
        cache_dir *d = NULL;
        CHILD_CHECK(cache_dir_open(dir, &d) == TJ_OK);
        cache_test_hooks h = {-1, 0, announce_and_hang, NULL};
        cache_dir_set_test_hooks(d, &h);
        unsigned char *data = cu_payload(seed, size);
        cache_put(d, key, data, size);
        _exit(4);   /* not reached */
    }
    close(p[1]);
    char c;
    int ok = read(p[0], &c, 1) == 1;
    close(p[0]);
    kill(pid, SIGKILL);
    return wait_child(pid) == 200 + SIGKILL && ok;
}

TEST(test_cache_killed_writer_never_leaves_a_served_corrupt_entry) {
    char dir[64];
    CHECK(cu_tmpdir(dir, sizeof dir));
    enum { BIG = 4 << 20 };
    cache_key fresh, existing;
    CHECK(cu_key(8001, &fresh) && cu_key(8002, &existing));
    /* a new key: the half-written file is a temporary one, never served */
    CHECK(kill_mid_write(dir, &fresh, 1, BIG));
    CHECK(cu_count_files(dir, ".tmp.") == 1);
    cache_dir *d;
    CHECK_OK(cache_dir_open(dir, &d));
    void *got;
    size_t n;
    cu_capture_begin();
    tj_status s = cache_get(d, &fresh, &got, &n);
    char *err = cu_capture_end();
    CHECK(s == TJ_ERR_IO && strcmp(err, "") == 0);   /* a plain miss, nothing to report */
    free(err);
    cache_stats st;
    CHECK_OK(cache_stats_get(d, &st));
    CHECK(st.entries == 0 && st.temp_files == 1);
    /* the next put (here: a rebuild) sweeps the dead writer's file */
    unsigned char *good = cu_payload(1, BIG);
    CHECK_OK(cache_put(d, &fresh, good, BIG));
    CHECK(cu_count_files(dir, ".tmp.") == 0);
    CHECK_OK(cache_get(d, &fresh, &got, &n));
    CHECK(n == BIG && memcmp(got, good, n) == 0);
    free(got);
    /* replacing an entry: the old one stays whole and is served */
    unsigned char *old = cu_payload(2, BIG / 2);
    CHECK_OK(cache_put(d, &existing, old, BIG / 2));
    cache_dir_close(d);
    CHECK(kill_mid_write(dir, &existing, 3, BIG));
    CHECK_OK(cache_dir_open(dir, &d));
    CHECK_OK(cache_get(d, &existing, &got, &n));
    CHECK(n == BIG / 2 && memcmp(got, old, n) == 0);
    free(got);
    size_t ok, bad;
    CHECK_OK(cache_verify_all(d, 1, NULL, NULL, &ok, &bad));   /* repair sweeps it too */
    CHECK(ok == 2 && bad == 0 && cu_count_files(dir, ".tmp.") == 0);
    cache_dir_close(d);
    free(good);
    free(old);
    cache_key_free(&fresh);
    cache_key_free(&existing);
    cu_rm_rf(dir);
}

/* ---- one warning per process -------------------------------------------- */

TEST(test_cache_unusable_directory_warns_once_per_process) {
    char dir[64], bad[128], errpath[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    snprintf(bad, sizeof bad, "%s/file", dir);
    CHECK(cu_write_file(bad, "x", 1));
    strcat(bad, "/cache");
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        for (int i = 0; i < 3; i++) {
            cache_dir *d = NULL;
            CHILD_CHECK(cache_dir_open(bad, &d) == TJ_OK && cache_dir_path(d) == NULL);
            cache_key k;
            CHILD_CHECK(cu_key(i, &k));
            CHILD_CHECK(cache_put(d, &k, "abc", 3) == TJ_OK);
            void *got;
            size_t n;
            CHILD_CHECK(cache_get(d, &k, &got, &n) == TJ_OK && n == 3);
            free(got);
            cache_key_free(&k);
            cache_dir_close(d);
        }
        _exit(0);
    }
    CHECK(wait_child(pid) == 0);
    char *err = cu_read_file(errpath, NULL);
    CHECK(err);
    CHECKF(cu_count_substr(err, "tilejit:") == 1 && strstr(err, "memory only") && strstr(err, bad), "%s", err);
    free(err);
    cu_rm_rf(dir);
}

/* ---- real small and read-only file systems -------------------------------- */

/* In a child: a private mount namespace with a tmpfs of `size` at dir. 0
 * when this machine does not allow it. */
static int private_tmpfs(const char *dir, const char *size) {
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
           mount("tmpfs", dir, "tmpfs", 0, opts) == 0;
}

static int run_child(void (*fn)(const char *), const char *dir, char *skip_why) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) fn(dir);
    int rc = wait_child(pid);
    if (rc == 77) snprintf(skip_why, 128, "cannot mount a tmpfs here (%s)", "unshare or mount refused");
    return rc;
}

static void disk_full_child(const char *dir) {
    if (!private_tmpfs(dir, "64k")) _exit(77);
    cache_dir *d = NULL;
    CHILD_CHECK(cache_dir_open(dir, &d) == TJ_OK && cache_dir_writable(d));
    cache_key small, big;
    CHILD_CHECK(cu_key(1, &small) && cu_key(2, &big));
    unsigned char *s = cu_payload(1, 2000), *b = cu_payload(2, 200000);
    CHILD_CHECK(cache_put(d, &small, s, 2000) == TJ_OK);
    int fd = dup(2), nul = open("/dev/null", O_WRONLY);
    dup2(nul, 2);   /* the one warning */
    tj_status st = cache_put(d, &big, b, 200000);
    dup2(fd, 2);
    CHILD_CHECK(st == TJ_ERR_IO && strstr(tj_last_error(), "No space left"));
    CHILD_CHECK(cu_count_files(dir, ".tmp.") == 0);
    void *got;
    size_t n;
    CHILD_CHECK(cache_get(d, &big, &got, &n) == TJ_OK && n == 200000 && memcmp(got, b, n) == 0);
    free(got);
    cache_dir *d2 = NULL;   /* the small one is on disk, the big one is not */
    CHILD_CHECK(cache_dir_open(dir, &d2) == TJ_OK);
    CHILD_CHECK(cache_get(d2, &small, &got, &n) == TJ_OK && n == 2000 && memcmp(got, s, n) == 0);
    free(got);
    CHILD_CHECK(cache_get(d2, &big, &got, &n) == TJ_ERR_IO);
    _exit(0);
}

TEST(test_cache_full_file_system_keeps_going_from_memory) {
    char dir[64], why[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    int rc = run_child(disk_full_child, dir, why);
    cu_rm_rf(dir);
    if (rc == 77) SKIP("%s", why);
    CHECK(rc == 0);
}

static void read_only_child(const char *dir) {
    if (!private_tmpfs(dir, "1m")) _exit(77);
    cache_dir *d = NULL;
    cache_key a, b;
    CHILD_CHECK(cu_key(1, &a) && cu_key(2, &b));
    unsigned char *pa = cu_payload(1, 3000), *pb = cu_payload(2, 5000);
    CHILD_CHECK(cache_dir_open(dir, &d) == TJ_OK && cache_put(d, &a, pa, 3000) == TJ_OK);
    cache_dir_close(d);
    CHILD_CHECK(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
    int fd = dup(2), cap = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    CHILD_CHECK(cap >= 0);
    dup2(cap, 2);
    CHILD_CHECK(cache_dir_open(dir, &d) == TJ_OK);
    dup2(fd, 2);
    char warn[512] = "";
    CHILD_CHECK(pread(cap, warn, sizeof warn - 1, 0) > 0 && strstr(warn, "read-only"));
    CHILD_CHECK(cache_dir_path(d) && !cache_dir_writable(d));
    void *got;
    size_t n;
    CHILD_CHECK(cache_get(d, &a, &got, &n) == TJ_OK && n == 3000 && memcmp(got, pa, n) == 0);
    free(got);
    CHILD_CHECK(cache_put(d, &b, pb, 5000) == TJ_OK);   /* into memory */
    CHILD_CHECK(cache_get(d, &b, &got, &n) == TJ_OK && n == 5000 && memcmp(got, pb, n) == 0);
    free(got);
    int lfd = 0;
    CHILD_CHECK(cache_lock(d, &b, &lfd) == TJ_OK && lfd == -1);
    _exit(0);
}

TEST(test_cache_read_only_directory_serves_entries_and_keeps_new_in_memory) {
    char dir[64], why[128];
    CHECK(cu_tmpdir(dir, sizeof dir));
    int rc = run_child(read_only_child, dir, why);
    cu_rm_rf(dir);
    if (rc == 77) SKIP("%s", why);
    CHECK(rc == 0);
}

int main(void) { return harness_main(); }
