/* Minimal test harness for the C tests of libzarrcore: CHECK macros that
 * count passes and failures and print the library's message on failure;
 * finish() prints "NAME: N passed, M failed" and gives the exit code. */
#ifndef ZARRCORE_TEST_CHECK_H
#define ZARRCORE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include <zarrcore.h>

static int g_pass = 0;
static int g_fail = 0;

/* The calling thread's last error message (static buffer: main thread only). */
static const char *last_msg(void) {
    static char buf[2048];
    buf[0] = '\0';
    zarrcore_error_message(buf, sizeof buf, NULL);
    return buf;
}

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (cond) {                                                             \
            g_pass++;                                                           \
        } else {                                                                \
            g_fail++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,    \
                    #cond);                                                     \
        }                                                                       \
    } while (0)

#define CHECK_OK(call)                                                          \
    do {                                                                        \
        zarrcore_status st_ = (call);                                           \
        if (st_ == ZARRCORE_OK) {                                               \
            g_pass++;                                                           \
        } else {                                                                \
            g_fail++;                                                           \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, \
                    zarrcore_status_str(st_), last_msg());                      \
        }                                                                       \
    } while (0)

/* The call fails with `code` and the message contains `needle`. */
#define CHECK_ERR(call, code, needle)                                           \
    do {                                                                        \
        zarrcore_status st_ = (call);                                           \
        const char *m_ = last_msg();                                            \
        if (st_ == (code) && strstr(m_, (needle)) != NULL) {                    \
            g_pass++;                                                           \
        } else {                                                                \
            g_fail++;                                                           \
            fprintf(stderr,                                                     \
                    "%s:%d: %s -> %s (%s), expected %s with a message "         \
                    "containing \"%s\"\n",                                      \
                    __FILE__, __LINE__, #call, zarrcore_status_str(st_), m_,    \
                    zarrcore_status_str(code), (needle));                       \
        }                                                                       \
    } while (0)

static int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_pass, g_fail);
    return g_fail == 0 && g_pass > 0 ? 0 : 1;
}

#endif
