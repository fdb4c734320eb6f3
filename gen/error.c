/*
 * error.c — per-thread error messages, status names and the version.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir.h"

/* One message per thread: callers read it right after the failing call. */
static _Thread_local char tls_message[4096];

tj_status tj_set_errorv(tj_status s, const char *fmt, va_list ap) {
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    return s;
}

tj_status tj_set_error(tj_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tj_set_errorv(s, fmt, ap);
    va_end(ap);
    return s;
}

void tj_clear_error(void) { tls_message[0] = '\0'; }

const char *tj_last_error(void) { return tls_message; }

const char *tj_status_name(tj_status s) {
    static const char *const names[] = {
        [TJ_OK] = "TJ_OK",
        [TJ_ERR_INVALID_ARG] = "TJ_ERR_INVALID_ARG",
        [TJ_ERR_NO_MEMORY] = "TJ_ERR_NO_MEMORY",
        [TJ_ERR_PARSE] = "TJ_ERR_PARSE",
        [TJ_ERR_VERIFY] = "TJ_ERR_VERIFY",
        [TJ_ERR_UNBOUND] = "TJ_ERR_UNBOUND",
        [TJ_ERR_IO] = "TJ_ERR_IO",
        [TJ_ERR_UNSUPPORTED] = "TJ_ERR_UNSUPPORTED",
        [TJ_ERR_COMPILE] = "TJ_ERR_COMPILE",
        [TJ_ERR_DRIVER] = "TJ_ERR_DRIVER",
        [TJ_ERR_INTERNAL] = "TJ_ERR_INTERNAL",
    };
    if ((unsigned)s < sizeof names / sizeof names[0] && names[s]) return names[s];
    return "TJ_ERR_UNKNOWN";
}

const char *tj_version(void) { return TJ_VERSION_STRING; }
int tj_version_number(void) { return TJ_VERSION_NUMBER; }
void tj_free(void *p) { free(p); }
