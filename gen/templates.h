/*
 * templates.h — the device-side tile library (the .cuh files under templates/tj/),
 * embedded into libtilejit at build time by tools/embed.c, so NVRTC gets
 * the headers from memory and no file is read at run time.
 *
 * Files are listed in byte order of their names ("tj/generic.cuh",
 * "tj/tj.cuh", ...); a generated kernel includes them by those names.
 * The strings are static and live as long as the library.
 */
#ifndef TJ_TEMPLATES_H
#define TJ_TEMPLATES_H

/* Number of embedded files. */
int tj_template_count(void);
/* Name of file i ("tj/types.cuh"), or NULL when i is out of range. */
const char *tj_template_name(int i);
/* Text of file i (NUL-terminated), or NULL when i is out of range. */
const char *tj_template_text(int i);
/* Look a file up by name; NULL when absent. */
const char *tj_template_find(const char *name);
/* SHA-256 (64 lowercase hex digits) of every name and text, in order,
 * each followed by a NUL byte: part of the kernel cache key. Computed
 * once on first use (thread-safe). */
const char *tj_templates_hash(void);

#endif
