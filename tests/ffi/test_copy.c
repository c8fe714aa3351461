/* zarrcore_copy through the C API: a transpose (with rechunk and
 * re-encode) and a region + dtype + format conversion, every element read
 * back and compared with the expected values; a copy cancelled from the
 * progress callback and resumed equals an uninterrupted one; the progress
 * callback runs on the calling thread; the error paths (NULL arguments,
 * wrong handle type, bad JSON, unknown key, wrong type, a budget too
 * small, a short report buffer, an existing destination, a forced panic).
 * Usage: test_copy WORKDIR */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char g_dir[1024];

static const char *path_in(const char *name) {
    static char buf[1200];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

/* What the progress callback saw. */
typedef struct {
    pthread_t caller;
    int calls;
    int other_thread;   /* calls from a thread other than the caller */
    int not_monotonic;  /* done_bytes went down, or above total */
    uint64_t last_done, last_total;
    int cancel_after_bytes; /* cancel once done_bytes > 0 (1) or never (0) */
    int cancel_returned;
} progress_log;

static int32_t on_progress(void *user_data, uint64_t done, uint64_t total) {
    progress_log *p = (progress_log *)user_data;
    if (!pthread_equal(pthread_self(), p->caller)) {
        p->other_thread++;
    }
    if (done < p->last_done || done > total) {
        p->not_monotonic++;
    }
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    if (p->cancel_after_bytes && done > 0) {
        p->cancel_returned++;
        return 1;
    }
    return 0;
}

static void log_init(progress_log *p, int cancel) {
    memset(p, 0, sizeof *p);
    p->caller = pthread_self();
    p->cancel_after_bytes = cancel;
}

/* The unsigned integer after "key": in a JSON report (or UINT64_MAX). */
static uint64_t report_u64(const char *report, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(report, pat);
    return at ? strtoull(at + strlen(pat), NULL, 10) : UINT64_MAX;
}

static void read_all(const zarrcore_store *s, const char *path, const uint64_t *shape,
                     size_t nd, void *buf, size_t len) {
    zarrcore_array *a = NULL;
    uint64_t start[3] = {0, 0, 0};
    CHECK_OK(zarrcore_array_open(s, path, ZARRCORE_MODE_READ, &a));
    size_t got_nd = 0;
    uint64_t got_shape[3] = {0, 0, 0};
    CHECK_OK(zarrcore_array_ndim(a, &got_nd));
    CHECK(got_nd == nd);
    if (got_nd == nd) {
        CHECK_OK(zarrcore_array_shape(a, got_shape, nd));
        CHECK(memcmp(got_shape, shape, nd * sizeof(uint64_t)) == 0);
    }
    CHECK_OK(zarrcore_array_read_region(a, start, shape, nd, ZARRCORE_ORDER_C, buf, len));
    CHECK_OK(zarrcore_array_close(a));
}

/* A 7x5x6 int32 array, v[i][j][k] = 100i + 10j + k, transposed (2,0,1)
 * with new chunks and codec; then a region of it converted to int64 v2. */
static void test_transpose(zarrcore_store *s) {
    enum { N0 = 7, N1 = 5, N2 = 6 };
    uint64_t shape[3] = {N0, N1, N2}, chunks[3] = {3, 2, 4}, start[3] = {0, 0, 0};
    static int32_t src[N0][N1][N2];
    for (int i = 0; i < N0; i++)
        for (int j = 0; j < N1; j++)
            for (int k = 0; k < N2; k++) src[i][j][k] = 100 * i + 10 * j + k;
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, "src", ZARRCORE_FORMAT_V3, "int32", 3, shape, chunks, NULL,
                                   "zstd:1", "-1", 0, &a));
    CHECK_OK(zarrcore_array_write_region(a, start, shape, 3, ZARRCORE_ORDER_C, src, sizeof src));
    CHECK_OK(zarrcore_array_close(a));

    progress_log log;
    log_init(&log, 0);
    char report[ZARRCORE_COPY_REPORT_MAX_LEN];
    size_t report_len = 0;
    CHECK_OK(zarrcore_copy(s, "src", s, "t",
                           "{\"transpose\": [2, 0, 1], \"chunks\": [4, 4, 4], "
                           "\"codec\": \"gzip:1\", \"memory\": \"64MiB\", \"threads\": 2}",
                           on_progress, &log, report, sizeof report, &report_len));
    CHECK(report_len == strlen(report));
    CHECK(strstr(report, "\"outcome\":\"complete\"") != NULL);
    CHECK(report_u64(report, "cells_written") == report_u64(report, "cells_total"));
    CHECK(report_u64(report, "cells_total") == 2 * 2 * 2); /* 6x7x5 in 4x4x4 */
    CHECK(report_u64(report, "bytes") == sizeof src);
    CHECK(report_u64(report, "cells_resumed") == 0);
    CHECK(report_u64(report, "stored_bytes") > 0);
    CHECK(report_u64(report, "source_decodes") >= 3 * 3 * 2);
    CHECK(strstr(report, "\"seconds\":") != NULL);
    CHECK(log.calls >= 1);
    CHECK(log.other_thread == 0);
    CHECK(log.not_monotonic == 0);
    CHECK(log.last_done == sizeof src && log.last_total == sizeof src);

    static int32_t t[N2][N0][N1];
    uint64_t tshape[3] = {N2, N0, N1};
    read_all(s, "t", tshape, 3, t, sizeof t);
    int bad = 0;
    for (int i = 0; i < N0; i++)
        for (int j = 0; j < N1; j++)
            for (int k = 0; k < N2; k++) bad += t[k][i][j] != src[i][j][k];
    CHECK(bad == 0);
    zarrcore_array *ta = NULL;
    uint64_t tchunks[3] = {0, 0, 0};
    CHECK_OK(zarrcore_array_open(s, "t", ZARRCORE_MODE_READ, &ta));
    CHECK_OK(zarrcore_array_chunk_shape(ta, tchunks, 3));
    CHECK(tchunks[0] == 4 && tchunks[1] == 4 && tchunks[2] == 4);
    int32_t fill = 0;
    CHECK_OK(zarrcore_array_fill_value(ta, &fill, sizeof fill));
    CHECK(fill == -1);
    CHECK_OK(zarrcore_array_close(ta));

    /* No callback, no report: a region, to int64, as Zarr v2. */
    CHECK_OK(zarrcore_copy(s, "src", s, "r",
                           "{\"region\": \"1:6,:,-4:\", \"dtype\": \"int64\", \"zarr_format\": 2, "
                           "\"memory\": 33554432, \"resume\": null}",
                           NULL, NULL, NULL, 0, NULL));
    static int64_t r[5][N1][4];
    uint64_t rshape[3] = {5, N1, 4};
    read_all(s, "r", rshape, 3, r, sizeof r);
    bad = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < N1; j++)
            for (int k = 0; k < 4; k++) bad += r[i][j][k] != (int64_t)src[i + 1][j][k + 2];
    CHECK(bad == 0);
    zarrcore_array *ra = NULL;
    int32_t fmt = 0, dt = 0;
    CHECK_OK(zarrcore_array_open(s, "r", ZARRCORE_MODE_READ, &ra));
    CHECK_OK(zarrcore_array_zarr_format(ra, &fmt));
    CHECK_OK(zarrcore_array_dtype(ra, &dt));
    CHECK(fmt == ZARRCORE_FORMAT_V2 && dt == ZARRCORE_DTYPE_INT64);
    CHECK_OK(zarrcore_array_close(ra));
    /* The report length alone (no buffer). */
    report_len = 0;
    CHECK_OK(zarrcore_copy(s, "src", s, "r", "{\"overwrite\": true}", NULL, NULL, NULL, 0,
                           &report_len));
    CHECK(report_len > 0 && report_len < ZARRCORE_COPY_REPORT_MAX_LEN);
}

/* Cancel from the callback, resume, compare with an uninterrupted copy. */
static void test_cancel_resume(zarrcore_store *s) {
    enum { R = 256, C = 192 };
    uint64_t shape[2] = {R, C}, chunks[2] = {8, 8}, start[2] = {0, 0};
    static uint16_t src[R][C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) src[i][j] = (uint16_t)(i * 7 + j * 3);
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, "big", ZARRCORE_FORMAT_V3, "uint16", 2, shape, chunks,
                                   NULL, "zstd:1", NULL, 0, &a));
    CHECK_OK(zarrcore_array_write_region(a, start, shape, 2, ZARRCORE_ORDER_C, src, sizeof src));
    CHECK_OK(zarrcore_array_close(a));
    const char *opts = "{\"transpose\": [1, 0], \"threads\": 1, \"memory\": \"32MiB\"}";
    const char *resume = "{\"transpose\": [1, 0], \"threads\": 1, \"memory\": \"32MiB\", "
                         "\"resume\": true}";
    char report[ZARRCORE_COPY_REPORT_MAX_LEN];
    size_t report_len = 0;

    /* The callback sees the first finished chunk and cancels; the engine
     * may have finished a few more by then. Should it finish all before
     * the callback runs (a very busy machine), start over (bounded). */
    progress_log log;
    zarrcore_status st = ZARRCORE_OK;
    int attempt = 0;
    for (; attempt < 10; attempt++) {
        log_init(&log, 1);
        st = zarrcore_copy(s, "big", s, "tb", attempt == 0 ? opts : "{\"transpose\": [1, 0], "
                           "\"threads\": 1, \"memory\": \"32MiB\", \"overwrite\": true}",
                           on_progress, &log, report, sizeof report, &report_len);
        if (st != ZARRCORE_OK) {
            break;
        }
    }
    CHECK(st == ZARRCORE_E_CANCELLED);
    CHECK(strstr(last_msg(), "cancelled by the progress callback") != NULL);
    CHECK(strstr(last_msg(), "resume") != NULL);
    CHECK(log.cancel_returned == 1); /* never called again after the cancel */
    CHECK(log.other_thread == 0);
    CHECK(strstr(report, "\"outcome\":\"cancelled\"") != NULL);
    uint64_t total = report_u64(report, "cells_total");
    uint64_t first = report_u64(report, "cells_written");
    CHECK(total == (R / 8) * (C / 8));
    CHECK(first >= 1 && first < total);
    CHECK(report_len == strlen(report));
    printf("    cancelled after %llu of %llu chunks (attempt %d)\n", (unsigned long long)first,
           (unsigned long long)total, attempt + 1);

    /* Without resume or overwrite the destination is refused. */
    CHECK_ERR(zarrcore_copy(s, "big", s, "tb", opts, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_ALREADY_EXISTS, "resume");
    log_init(&log, 0);
    CHECK_OK(zarrcore_copy(s, "big", s, "tb", resume, on_progress, &log, report, sizeof report,
                           &report_len));
    CHECK(strstr(report, "\"outcome\":\"complete\"") != NULL);
    CHECK(report_u64(report, "cells_resumed") == first);
    CHECK(report_u64(report, "cells_written") == total - first);
    CHECK(log.calls >= 1 && log.other_thread == 0);
    CHECK(log.last_done == sizeof src && log.last_total == sizeof src);

    CHECK_OK(zarrcore_copy(s, "big", s, "ref", opts, NULL, NULL, report, sizeof report, NULL));
    CHECK(report_u64(report, "cells_written") == total);
    static uint16_t got[C][R], want[C][R];
    uint64_t tshape[2] = {C, R};
    read_all(s, "tb", tshape, 2, got, sizeof got);
    read_all(s, "ref", tshape, 2, want, sizeof want);
    CHECK(memcmp(got, want, sizeof got) == 0);
    int bad = 0;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) bad += got[j][i] != src[i][j];
    CHECK(bad == 0);
}

static void test_errors(zarrcore_store *s) {
    char report[ZARRCORE_COPY_REPORT_MAX_LEN];
    size_t len = 77;
    const char *o = "{\"overwrite\": true}";
    CHECK_ERR(zarrcore_copy(NULL, "src", s, "e", o, NULL, NULL, NULL, 0, &len),
              ZARRCORE_E_NULL_ARGUMENT, "`src` is NULL");
    CHECK(len == 0);
    CHECK_ERR(zarrcore_copy(s, NULL, s, "e", o, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_NULL_ARGUMENT, "`src_path` is NULL");
    CHECK_ERR(zarrcore_copy(s, "src", NULL, "e", o, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_NULL_ARGUMENT, "`dst` is NULL");
    CHECK_ERR(zarrcore_copy(s, "src", s, NULL, o, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_NULL_ARGUMENT, "`dst_path` is NULL");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", o, NULL, NULL, NULL, 8, NULL),
              ZARRCORE_E_NULL_ARGUMENT, "`report_buf` is NULL");
    /* A handle of the wrong type. */
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_open(s, "src", ZARRCORE_MODE_READ, &a));
    CHECK_ERR(zarrcore_copy(s, "src", (const zarrcore_store *)(const void *)a, "e", o, NULL, NULL,
                            NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "`dst`: is not a live zarrcore_store handle");
    CHECK_OK(zarrcore_array_close(a));
    /* Options. */
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"transpose\": [2,", NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "`options_json`: is not valid JSON");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "[2, 0, 1]", NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "must be a JSON object");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"transpos\": [2, 0, 1]}", NULL, NULL, NULL, 0,
                            NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "key \"transpos\": unknown option");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"threads\": \"2\"}", NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "key \"threads\": expected a positive integer");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"shards\": 4}", NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "key \"shards\"");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"codec\": \"zip:9\"}", NULL, NULL, NULL, 0,
                            NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "key \"codec\"");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"region\": \"0:99,x\"}", NULL, NULL, NULL, 0,
                            NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "key \"region\"");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"transpose\": [0, 0, 1]}", NULL, NULL, NULL, 0,
                            NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "permutation");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"dtype\": \"int8\"}", NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "int8");
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", "{\"memory\": \"1KiB\"}", NULL, NULL, NULL, 0,
                            NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "too small");
    CHECK(strstr(last_msg(), "at least") != NULL);
    /* A report buffer shorter than the bound is refused before any work. */
    len = 0;
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", o, NULL, NULL, report, 16, &len),
              ZARRCORE_E_BUFFER_LENGTH, "ZARRCORE_COPY_REPORT_MAX_LEN");
    CHECK(len == ZARRCORE_COPY_REPORT_MAX_LEN - 1);
    zarrcore_array *e = NULL;
    CHECK_ERR(zarrcore_array_open(s, "e", ZARRCORE_MODE_READ, &e), ZARRCORE_E_NOT_FOUND, "e");
    /* Missing source; overlapping paths; a read-only destination. */
    CHECK_ERR(zarrcore_copy(s, "nothing", s, "e", o, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_NOT_FOUND, "nothing");
    CHECK_ERR(zarrcore_copy(s, "src", s, "src", o, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_INVALID_ARGUMENT, "overlap");
    zarrcore_store *ro = NULL;
    CHECK_OK(zarrcore_store_open(path_in("copy.zarr"), ZARRCORE_STORE_READ_ONLY, &ro));
    CHECK_ERR(zarrcore_copy(s, "src", ro, "e", o, NULL, NULL, NULL, 0, NULL),
              ZARRCORE_E_READ_ONLY, "");
    CHECK_OK(zarrcore_store_close(ro));
    /* A panic inside stays inside. */
    CHECK_OK(zarrcore_test_force_panic(1));
    CHECK_ERR(zarrcore_copy(s, "src", s, "e", o, NULL, NULL, NULL, 0, NULL), ZARRCORE_E_PANIC,
              "zarrcore_copy: panic inside zarrcore");
    CHECK(strcmp(zarrcore_status_str(ZARRCORE_E_CANCELLED), "ZARRCORE_E_CANCELLED") == 0);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    zarrcore_store *s = NULL;
    CHECK_OK(zarrcore_store_open(path_in("copy.zarr"), ZARRCORE_STORE_CREATE, &s));
    test_transpose(s);
    test_cancel_resume(s);
    test_errors(s);
    CHECK_OK(zarrcore_store_close(s));
    return finish("test_copy");
}
