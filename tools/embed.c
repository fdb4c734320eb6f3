/*
 * embed.c — build-time generator: turns the template headers into a C
 * source that implements gen/templates.h.
 *
 *   tj_embed OUT.c ROOT FILE...
 *   tj_embed --digest OUT.c SYMBOL ROOT FILE...
 *
 * The second form embeds nothing: OUT.c defines `const char *SYMBOL(void)`
 * returning a digest (64-bit FNV-1a, hex) of the files' names and texts,
 * for the cache key's codegen component (the code generator's sources:
 * a cubin cached by one build of them is never served to another, whose
 * launch description, derived again from the emitter, could disagree).
 *
 * Each FILE must lie under ROOT; its name in the table is its path
 * relative to ROOT ("tj/types.cuh"). Files are sorted by name so the
 * table (and so the hash) does not depend on the order meson lists them.
 * Runs on the build machine (meson `native: true`); needs only libc.
 */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct file {
    char *name;
    char *text;
    size_t len;
} file;

static int die(const char *fmt, const char *arg) {
    fprintf(stderr, "tj_embed: ");
    fprintf(stderr, fmt, arg, strerror(errno));
    fprintf(stderr, "\n");
    return 1;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n + 1 < cap) break;
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const file *)a)->name, ((const file *)b)->name);
}

/* One C string literal per source line; every byte that could mean
 * something to the C lexer (quotes, backslash, '?' of trigraphs, controls)
 * is written as a 3-digit octal escape. */
static void write_literal(FILE *out, const char *s, size_t n) {
    fputs("    \"", out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            fputs("\\n\"", out);
            if (i + 1 < n) fputs("\n    \"", out);
            else return;
        } else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '?') {
            fprintf(out, "\\%03o", c);
        } else {
            fputc(c, out);
        }
    }
    fputs("\"", out);
}

static const char *const epilogue =
    "\n"
    "int tj_template_count(void) { return (int)(sizeof files / sizeof files[0]); }\n"
    "\n"
    "const char *tj_template_name(int i) {\n"
    "    return i >= 0 && i < tj_template_count() ? files[i].name : NULL;\n"
    "}\n"
    "\n"
    "const char *tj_template_text(int i) {\n"
    "    return i >= 0 && i < tj_template_count() ? files[i].text : NULL;\n"
    "}\n"
    "\n"
    "const char *tj_template_find(const char *name) {\n"
    "    for (int i = 0; name && i < tj_template_count(); i++)\n"
    "        if (strcmp(files[i].name, name) == 0) return files[i].text;\n"
    "    return NULL;\n"
    "}\n"
    "\n"
    "/* A process-wide cache: written once under pthread_once, read-only after. */\n"
    "static char templates_hash[65];\n"
    "static pthread_once_t templates_hash_once = PTHREAD_ONCE_INIT;\n"
    "\n"
    "static void templates_hash_compute(void) {\n"
    "    ir_sha256 s;\n"
    "    uint8_t d[32];\n"
    "    ir_sha256_init(&s);\n"
    "    for (int i = 0; i < tj_template_count(); i++) {\n"
    "        ir_sha256_update(&s, files[i].name, strlen(files[i].name) + 1);\n"
    "        ir_sha256_update(&s, files[i].text, files[i].len + 1);\n"
    "    }\n"
    "    ir_sha256_final(&s, d);\n"
    "    for (int i = 0; i < 32; i++) {\n"
    "        templates_hash[2 * i] = \"0123456789abcdef\"[d[i] >> 4];\n"
    "        templates_hash[2 * i + 1] = \"0123456789abcdef\"[d[i] & 15];\n"
    "    }\n"
    "    templates_hash[64] = '\\0';\n"
    "}\n"
    "\n"
    "const char *tj_templates_hash(void) {\n"
    "    pthread_once(&templates_hash_once, templates_hash_compute);\n"
    "    return templates_hash;\n"
    "}\n";

/* OUT.c with SYMBOL() returning the files' digest; 0 on success. */
static int write_digest(const char *outpath, const char *symbol, const file *files, int n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++) {
        const char *parts[2] = {files[i].name, files[i].text};
        size_t lens[2] = {strlen(files[i].name) + 1, files[i].len + 1};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < lens[k]; j++) {
                h ^= (unsigned char)parts[k][j];
                h *= 0x100000001b3ull;
            }
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", outpath);
    FILE *out = fopen(tmp, "wb");
    if (!out) return die("cannot write %s: %s", tmp);
    fprintf(out, "/* Generated by tools/embed.c --digest from %d files: do not edit. */\n"
                 "const char *%s(void);\nconst char *%s(void) { return \"%016llx\"; }\n",
            n, symbol, symbol, (unsigned long long)h);
    if (fclose(out) != 0) return die("cannot write %s: %s", tmp);
    return rename(tmp, outpath) != 0 ? die("cannot rename to %s: %s", outpath) : 0;
}

int main(int argc, char **argv) {
    const char *digest = NULL;
    if (argc > 1 && !strcmp(argv[1], "--digest")) {
        if (argc < 6) {
            fprintf(stderr, "usage: tj_embed --digest OUT.c SYMBOL ROOT FILE...\n");
            return 2;
        }
        digest = argv[3];
        argv[3] = argv[2];   /* OUT.c ROOT FILE... as below */
        argv += 2;
        argc -= 2;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: tj_embed OUT.c ROOT FILE...\n");
        return 2;
    }
    /* meson hands inputs relative to the build directory and the root as
     * an absolute path: compare them canonically. */
    static char root[PATH_MAX], path[PATH_MAX];
    if (!realpath(argv[2], root)) return die("cannot resolve %s: %s", argv[2]);
    size_t rootlen = strlen(root);
    int n = argc - 3;
    file *files = calloc((size_t)n, sizeof *files);
    if (!files) return die("out of memory%s (%s)", "");
    for (int i = 0; i < n; i++) {
        if (!realpath(argv[3 + i], path)) return die("cannot resolve %s: %s", argv[3 + i]);
        if (strncmp(path, root, rootlen) != 0 || path[rootlen] != '/') {
            fprintf(stderr, "tj_embed: %s is not under %s\n", path, root);
            return 1;
        }
        files[i].name = strdup(path + rootlen + 1);
        if (!files[i].name) return die("out of memory%s (%s)", "");
        /* The name goes into C source and into #include lines: keep it plain. */
        if (strspn(files[i].name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_./-") != strlen(files[i].name)) {
            fprintf(stderr, "tj_embed: %s: use only letters, digits and _ . / - in names\n", path);
            return 1;
        }
        files[i].text = read_all(path, &files[i].len);
        if (!files[i].text) return die("cannot read %s: %s", path);
        if (strlen(files[i].text) != files[i].len) {
            fprintf(stderr, "tj_embed: %s holds a NUL byte\n", path);
            return 1;
        }
    }
    qsort(files, (size_t)n, sizeof *files, by_name);
    for (int i = 1; i < n; i++)
        if (strcmp(files[i - 1].name, files[i].name) == 0) {
            fprintf(stderr, "tj_embed: %s is listed twice\n", files[i].name);
            return 1;
        }

    if (digest) {
        /* the names checked above are fine in a digest too */
        int rc = write_digest(argv[1], digest, files, n);
        for (int i = 0; i < n; i++) {
            free(files[i].name);
            free(files[i].text);
        }
        free(files);
        return rc;
    }
    /* Write to a temporary name and rename, so an interrupted build never
     * leaves a half-written source that looks up to date. */
    size_t olen = strlen(argv[1]);
    char *tmp = malloc(olen + 5);
    if (!tmp) return die("out of memory%s (%s)", "");
    memcpy(tmp, argv[1], olen);
    memcpy(tmp + olen, ".tmp", 5);
    FILE *out = fopen(tmp, "wb");
    if (!out) return die("cannot write %s: %s", tmp);
    fprintf(out, "/* Generated by tools/embed.c from the files under templates/: do not edit. */\n"
                 "#include <pthread.h>\n#include <stdint.h>\n#include <string.h>\n\n"
                 "#include \"ir.h\"\n#include \"templates.h\"\n\n");
    for (int i = 0; i < n; i++) {
        fprintf(out, "/* %s */\nstatic const char text_%d[] =\n", files[i].name, i);
        write_literal(out, files[i].text, files[i].len);
        fputs(";\n\n", out);
    }
    fputs("static const struct {\n    const char *name;\n    const char *text;\n    size_t len;\n"
          "} files[] = {\n", out);
    for (int i = 0; i < n; i++)
        fprintf(out, "    {\"%s\", text_%d, %zu},\n", files[i].name, i, files[i].len);
    fputs("};\n", out);
    fputs(epilogue, out);
    if (fclose(out) != 0) return die("cannot write %s: %s", tmp);
    if (rename(tmp, argv[1]) != 0) return die("cannot rename to %s: %s", argv[1]);
    free(tmp);
    for (int i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].text);
    }
    free(files);
    return 0;
}
