/* pthreads and the C API:
 *  - 8 threads read through ONE read handle at once (many regions each,
 *    crossing chunk edges, C and F order, and byte ranges); every value is
 *    checked against the reference;
 *  - 8 threads write overlapping partial regions through ONE write handle
 *    (plain chunks, then a sharded array); where regions overlap they
 *    write the same reference values, so the result must equal the
 *    reference exactly where covered and the fill value elsewhere.
 * Usage: test_threads WORKDIR */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NTHREADS 8
#define ROWS 97
#define COLS 131

static char g_dir[1024];

static int64_t ref(uint64_t i, uint64_t j) { return (int64_t)(i * 100003u + j * 7u) - 5000; }

/* A small deterministic generator, one state per thread. */
static uint32_t next_rand(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

struct reader_arg {
    const zarrcore_array *a;
    uint32_t seed;
    int errors;
    int checked;
};

static void *reader(void *p) {
    struct reader_arg *r = p;
    uint32_t st = r->seed;
    int64_t *buf = malloc(ROWS * COLS * sizeof(int64_t));
    if (buf == NULL) {
        r->errors++;
        return NULL;
    }
    for (int it = 0; it < 40; it++) {
        uint64_t start[2], count[2];
        start[0] = next_rand(&st) % ROWS;
        start[1] = next_rand(&st) % COLS;
        count[0] = 1 + next_rand(&st) % (ROWS - start[0]);
        count[1] = 1 + next_rand(&st) % (COLS - start[1]);
        int32_t order = (it % 3 == 2) ? ZARRCORE_ORDER_F : ZARRCORE_ORDER_C;
        size_t n = (size_t)(count[0] * count[1]);
        if (zarrcore_array_read_region(r->a, start, count, 2, order, buf, n * sizeof(int64_t)) !=
            ZARRCORE_OK) {
            r->errors++;
            continue;
        }
        for (uint64_t i = 0; i < count[0]; i++) {
            for (uint64_t j = 0; j < count[1]; j++) {
                size_t k = order == ZARRCORE_ORDER_C ? (size_t)(i * count[1] + j)
                                                     : (size_t)(j * count[0] + i);
                if (buf[k] != ref(start[0] + i, start[1] + j)) {
                    r->errors++;
                }
                r->checked++;
            }
        }
        /* A byte range that starts and ends inside elements. */
        uint64_t total = ROWS * COLS * sizeof(int64_t);
        uint64_t off = next_rand(&st) % (total - 64);
        unsigned char bytes[61];
        if (zarrcore_array_read_bytes(r->a, off, bytes, sizeof bytes) != ZARRCORE_OK) {
            r->errors++;
            continue;
        }
        for (size_t b = 0; b < sizeof bytes; b++) {
            uint64_t pos = off + b, e = pos / 8;
            int64_t v = ref(e / COLS, e % COLS);
            unsigned char want;
            memcpy(&want, (unsigned char *)&v + pos % 8, 1);
            if (bytes[b] != want) {
                r->errors++;
            }
        }
    }
    free(buf);
    return NULL;
}

struct writer_arg {
    const zarrcore_array *a;
    uint64_t start[2], count[2];
    int errors;
};

/* Writes its region in four overlapping pieces, alternating C and F order. */
static void *writer(void *p) {
    struct writer_arg *w = p;
    int64_t *buf = malloc((size_t)(w->count[0] * w->count[1]) * sizeof(int64_t));
    if (buf == NULL) {
        w->errors++;
        return NULL;
    }
    for (int piece = 0; piece < 4; piece++) {
        uint64_t s[2], c[2];
        /* Pieces: each covers a bit more than a quarter of the rows. */
        uint64_t q = (w->count[0] + 3) / 4;
        s[0] = w->start[0] + (uint64_t)piece * q;
        if (s[0] >= w->start[0] + w->count[0]) {
            break;
        }
        c[0] = q + 2;
        if (s[0] + c[0] > w->start[0] + w->count[0]) {
            c[0] = w->start[0] + w->count[0] - s[0];
        }
        s[1] = w->start[1];
        c[1] = w->count[1];
        int32_t order = piece % 2 ? ZARRCORE_ORDER_F : ZARRCORE_ORDER_C;
        for (uint64_t i = 0; i < c[0]; i++) {
            for (uint64_t j = 0; j < c[1]; j++) {
                size_t k = order == ZARRCORE_ORDER_C ? (size_t)(i * c[1] + j)
                                                     : (size_t)(j * c[0] + i);
                buf[k] = ref(s[0] + i, s[1] + j);
            }
        }
        if (zarrcore_array_write_region(w->a, s, c, 2, order, buf,
                                        (size_t)(c[0] * c[1]) * sizeof(int64_t)) != ZARRCORE_OK) {
            w->errors++;
        }
    }
    free(buf);
    return NULL;
}

static void create_reference(const zarrcore_store *s, const char *path) {
    const uint64_t shape[2] = {ROWS, COLS}, chunks[2] = {16, 20}, zero[2] = {0, 0};
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, path, ZARRCORE_FORMAT_V3, "int64", 2, shape, chunks, NULL,
                                   "zstd:1", NULL, 0, &a));
    int64_t *all = malloc(ROWS * COLS * sizeof(int64_t));
    for (uint64_t i = 0; i < ROWS; i++) {
        for (uint64_t j = 0; j < COLS; j++) {
            all[i * COLS + j] = ref(i, j);
        }
    }
    CHECK_OK(zarrcore_array_write_region(a, zero, shape, 2, ZARRCORE_ORDER_C, all,
                                         ROWS * COLS * sizeof(int64_t)));
    CHECK_OK(zarrcore_array_close(a));
    free(all);
}

static void test_concurrent_reads(const zarrcore_store *s) {
    create_reference(s, "readers");
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_open(s, "readers", ZARRCORE_MODE_READ, &a));
    pthread_t t[NTHREADS];
    struct reader_arg args[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        args[k].a = a;
        args[k].seed = 12345u + 977u * (uint32_t)k;
        args[k].errors = 0;
        args[k].checked = 0;
        CHECK(pthread_create(&t[k], NULL, reader, &args[k]) == 0);
    }
    for (int k = 0; k < NTHREADS; k++) {
        CHECK(pthread_join(t[k], NULL) == 0);
        CHECK(args[k].errors == 0);
        CHECK(args[k].checked > 0);
    }
    CHECK_OK(zarrcore_array_close(a));
}

static void test_concurrent_writes(const zarrcore_store *s, const char *path,
                                   const uint64_t *shards) {
    const uint64_t shape[2] = {ROWS, COLS}, chunks[2] = {8, 10}, zero[2] = {0, 0};
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, path, ZARRCORE_FORMAT_V3, "int64", 2, shape, chunks, shards,
                                   "zstd:1", "-1", 0, &a));
    pthread_t t[NTHREADS];
    struct writer_arg args[NTHREADS];
    /* Thread k: a band of rows overlapping its neighbours, over a range of
     * columns that also overlaps; a few cells stay unwritten. */
    for (int k = 0; k < NTHREADS; k++) {
        args[k].a = a;
        args[k].start[0] = (uint64_t)k * 12;
        args[k].count[0] = k == NTHREADS - 1 ? ROWS - args[k].start[0] : 17;
        args[k].start[1] = (uint64_t)(k % 3) * 3;
        args[k].count[1] = COLS - args[k].start[1] - (uint64_t)(k % 2) * 5;
        args[k].errors = 0;
        CHECK(pthread_create(&t[k], NULL, writer, &args[k]) == 0);
    }
    for (int k = 0; k < NTHREADS; k++) {
        CHECK(pthread_join(t[k], NULL) == 0);
        CHECK(args[k].errors == 0);
    }
    CHECK_OK(zarrcore_array_close(a));

    /* Expected: reference where any thread wrote, fill (-1) elsewhere. */
    int64_t *want = malloc(ROWS * COLS * sizeof(int64_t));
    for (size_t k = 0; k < ROWS * COLS; k++) {
        want[k] = -1;
    }
    for (int k = 0; k < NTHREADS; k++) {
        for (uint64_t i = args[k].start[0]; i < args[k].start[0] + args[k].count[0]; i++) {
            for (uint64_t j = args[k].start[1]; j < args[k].start[1] + args[k].count[1]; j++) {
                want[i * COLS + j] = ref(i, j);
            }
        }
    }
    int64_t *got = malloc(ROWS * COLS * sizeof(int64_t));
    CHECK_OK(zarrcore_array_open(s, path, ZARRCORE_MODE_READ, &a));
    CHECK_OK(zarrcore_array_read_region(a, zero, shape, 2, ZARRCORE_ORDER_C, got,
                                        ROWS * COLS * sizeof(int64_t)));
    size_t diff = 0, fills = 0;
    for (size_t k = 0; k < ROWS * COLS; k++) {
        diff += got[k] != want[k];
        fills += want[k] == -1;
    }
    CHECK(diff == 0);
    CHECK(fills > 0 && fills < ROWS * COLS / 4);
    if (diff != 0) {
        fprintf(stderr, "%s: %zu elements differ from the reference\n", path, diff);
    }
    CHECK_OK(zarrcore_array_close(a));
    free(want);
    free(got);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s/threads.zarr", argv[1]);
    zarrcore_store *s = NULL;
    CHECK_OK(zarrcore_store_open(g_dir, ZARRCORE_STORE_CREATE, &s));
    test_concurrent_reads(s);
    test_concurrent_writes(s, "writers", NULL);
    const uint64_t shards[2] = {16, 40};
    test_concurrent_writes(s, "writers_sharded", shards);
    CHECK_OK(zarrcore_store_close(s));
    return finish("test_threads");
}
