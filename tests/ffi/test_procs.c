/* Many processes, one array (issue 12), through the C API.
 *
 * Writer:    test_procs STORE ARRAY_PATH PROC NPROCS WRITES FLUSH_EVERY SEED [STRIP]
 * Self-test: test_procs WORKDIR
 *
 * The writer is the strip pattern of tests/engine-helper/src/procs.rs
 * (the pytest driver tests/python/test_procs.py recomputes it): process
 * PROC of NPROCS owns the rows i = PROC (mod NPROCS) of axis 0; a strip is
 * 1 x ... x 1 x STRIP elements along the last axis; its strips are shuffled
 * (SplitMix64 seeded from SEED and PROC, Fisher-Yates) and it makes WRITES
 * partial writes (strip w mod count; 0 means one pass), flushing after every
 * FLUSH_EVERY writes (0: only at close). Element f (flat C-order index) is
 * 1 + (f * 7919 + 13) mod 1000003 as int32, or that + 0.5 as float64 --
 * never 0, the fill value. Exits 0, or 1 printing the library's message.
 *
 * The self-test is the scenario of the issue: it creates a v3 int32 array
 * in WORKDIR whose every chunk is shared by four processes, runs four
 * writers (this program, exec'd) at once, then reads the array back and
 * checks every element. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z;
    *state += 0x9e3779b97f4a7c15ULL;
    z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t base_value(uint64_t flat) {
    return 1 + (int64_t)((flat * 7919u + 13u) % 1000003u);
}

/* Prints the failed call with the library's message; returns 1. */
static int fail_call(const char *what, zarrcore_status st) {
    fprintf(stderr, "test_procs: %s: %s: %s\n", what, zarrcore_status_str(st), last_msg());
    return 1;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        fprintf(stderr, "test_procs: bad number %s\n", s);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

/* The strip writer. Returns the process exit code. */
static int run_writer(const char *location, const char *path, uint64_t proc, uint64_t nprocs,
                      uint64_t writes, uint64_t flush_every, uint64_t seed, uint64_t strip) {
    zarrcore_store *store = NULL;
    zarrcore_array *arr = NULL;
    uint64_t *shape = NULL, *start = NULL, *count = NULL, *order = NULL;
    unsigned char *buf = NULL;
    size_t ndim = 0;
    int32_t dtype = 0;
    int rc = 1;
    zarrcore_status st;

    if (nprocs == 0 || proc >= nprocs || strip == 0) {
        fprintf(stderr, "test_procs: need PROC < NPROCS and STRIP > 0\n");
        return 2;
    }
    if ((st = zarrcore_store_open(location, ZARRCORE_STORE_READ_WRITE, &store)) != ZARRCORE_OK) {
        return fail_call("zarrcore_store_open", st);
    }
    if ((st = zarrcore_array_open(store, path, ZARRCORE_MODE_WRITE, &arr)) != ZARRCORE_OK) {
        rc = fail_call("zarrcore_array_open", st);
        goto out;
    }
    if ((st = zarrcore_array_ndim(arr, &ndim)) != ZARRCORE_OK ||
        (st = zarrcore_array_dtype(arr, &dtype)) != ZARRCORE_OK) {
        rc = fail_call("zarrcore_array_ndim/dtype", st);
        goto out;
    }
    if (ndim < 2 || (dtype != ZARRCORE_DTYPE_INT32 && dtype != ZARRCORE_DTYPE_FLOAT64)) {
        fprintf(stderr, "test_procs: the strip pattern needs an int32 or float64 array of 2+ dims\n");
        goto out;
    }
    shape = calloc(ndim, sizeof *shape);
    start = calloc(ndim, sizeof *start);
    count = calloc(ndim, sizeof *count);
    buf = malloc((size_t)strip * 8);
    if (shape == NULL || start == NULL || count == NULL || buf == NULL) {
        fprintf(stderr, "test_procs: out of memory\n");
        goto out;
    }
    if ((st = zarrcore_array_shape(arr, shape, ndim)) != ZARRCORE_OK) {
        rc = fail_call("zarrcore_array_shape", st);
        goto out;
    }
    {
        uint64_t last = shape[ndim - 1];
        uint64_t per_row = (last + strip - 1) / strip;
        uint64_t middle = 1;
        for (size_t d = 1; d + 1 < ndim; d++) {
            middle *= shape[d];
        }
        uint64_t rows = proc < shape[0] ? (shape[0] - proc + nprocs - 1) / nprocs : 0;
        uint64_t n = rows * middle * per_row;
        if (n == 0) {
            fprintf(stderr, "test_procs: process %" PRIu64 " owns no rows\n", proc);
            goto out;
        }
        order = malloc((size_t)n * sizeof *order);
        if (order == NULL) {
            fprintf(stderr, "test_procs: out of memory\n");
            goto out;
        }
        for (uint64_t k = 0; k < n; k++) {
            order[k] = k;
        }
        uint64_t rng = seed ^ (proc * 0x5851f42d4c957f2dULL);
        for (uint64_t k = n - 1; k > 0; k--) {
            uint64_t j = splitmix64(&rng) % (k + 1);
            uint64_t t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        if (writes == 0) {
            writes = n;
        }
        uint64_t flushes = 0;
        for (uint64_t w = 0; w < writes; w++) {
            /* Strip id -> (row, middle index, strip of the row). */
            uint64_t id = order[w % n];
            uint64_t s = id % per_row;
            uint64_t m = (id / per_row) % middle;
            uint64_t r = id / (per_row * middle);
            start[0] = proc + r * nprocs;
            for (size_t d = ndim - 2; d >= 1; d--) {
                start[d] = m % shape[d];
                m /= shape[d];
            }
            start[ndim - 1] = s * strip;
            for (size_t d = 0; d < ndim; d++) {
                count[d] = 1;
            }
            uint64_t len = last - start[ndim - 1] < strip ? last - start[ndim - 1] : strip;
            count[ndim - 1] = len;
            uint64_t flat = 0;
            for (size_t d = 0; d < ndim; d++) {
                flat = flat * shape[d] + start[d];
            }
            size_t item = dtype == ZARRCORE_DTYPE_INT32 ? 4 : 8;
            for (uint64_t e = 0; e < len; e++) {
                int64_t v = base_value(flat + e);
                if (dtype == ZARRCORE_DTYPE_INT32) {
                    int32_t x = (int32_t)v;
                    memcpy(buf + e * 4, &x, 4);
                } else {
                    double x = (double)v + 0.5;
                    memcpy(buf + e * 8, &x, 8);
                }
            }
            st = zarrcore_array_write_region(arr, start, count, ndim, ZARRCORE_ORDER_C, buf,
                                             (size_t)len * item);
            if (st != ZARRCORE_OK) {
                rc = fail_call("zarrcore_array_write_region", st);
                goto out;
            }
            if (flush_every > 0 && (w + 1) % flush_every == 0) {
                if ((st = zarrcore_array_flush(arr)) != ZARRCORE_OK) {
                    rc = fail_call("zarrcore_array_flush", st);
                    goto out;
                }
                flushes++;
            }
        }
        st = zarrcore_array_close(arr);
        arr = NULL;
        if (st != ZARRCORE_OK) {
            rc = fail_call("zarrcore_array_close", st);
            goto out;
        }
        printf("test_procs: process %" PRIu64 "/%" PRIu64 " wrote %" PRIu64 " strips (%" PRIu64
               " owned) with %" PRIu64 " flushes\n",
               proc, nprocs, writes, n, flushes);
        rc = 0;
    }
out:
    if (arr != NULL) {
        zarrcore_array_close(arr);
    }
    st = zarrcore_store_close(store);
    if (st != ZARRCORE_OK && rc == 0) {
        rc = fail_call("zarrcore_store_close", st);
    }
    free(shape);
    free(start);
    free(count);
    free(order);
    free(buf);
    return rc;
}

/* The self-test: four writer processes, then every element checked. */
static int self_test(const char *workdir) {
    char location[1200];
    snprintf(location, sizeof location, "%s/procs.zarr", workdir);
    const uint64_t shape[3] = {16, 5, 24};
    const uint64_t chunks[3] = {8, 5, 8};
    const int nprocs = 4;
    zarrcore_store *s = NULL;
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_store_open(location, ZARRCORE_STORE_CREATE, &s));
    CHECK_OK(zarrcore_array_create(s, "strips", ZARRCORE_FORMAT_V3, "int32", 3, shape, chunks,
                                   NULL, "zstd:1", "0", 0, &a));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_store_close(s));
    if (g_fail > 0) {
        return finish("test_procs");
    }
    /* Exec this program (not just fork: no library state crosses a fork). */
    pid_t pids[4];
    for (int p = 0; p < nprocs; p++) {
        char proc[16];
        snprintf(proc, sizeof proc, "%d", p);
        fflush(NULL);
        pids[p] = fork();
        if (pids[p] == 0) {
            char *args[] = {"test_procs", location, "strips", proc, "4", "0", "6", "11", "3", NULL};
            execv("/proc/self/exe", args);
            _exit(127);
        }
        CHECK(pids[p] > 0);
    }
    for (int p = 0; p < nprocs; p++) {
        int status = 0;
        if (pids[p] > 0) {
            CHECK(waitpid(pids[p], &status, 0) == pids[p]);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    CHECK_OK(zarrcore_store_open(location, ZARRCORE_STORE_READ_ONLY, &s));
    CHECK_OK(zarrcore_array_open(s, "strips", ZARRCORE_MODE_READ, &a));
    size_t n = 16 * 5 * 24;
    int32_t *got = calloc(n, sizeof *got);
    CHECK(got != NULL);
    if (got != NULL && a != NULL) {
        const uint64_t zero[3] = {0, 0, 0};
        CHECK_OK(zarrcore_array_read_region(a, zero, shape, 3, ZARRCORE_ORDER_C, got,
                                            n * sizeof *got));
        size_t lost = 0, wrong = 0;
        for (size_t f = 0; f < n; f++) {
            if (got[f] == 0) {
                lost++;
            } else if (got[f] != (int32_t)base_value(f)) {
                wrong++;
            }
        }
        if (lost > 0 || wrong > 0) {
            fprintf(stderr,
                    "test_procs: %zu of %zu elements lost (still the fill value), %zu wrong\n",
                    lost, n, wrong);
        }
        CHECK(lost == 0);
        CHECK(wrong == 0);
    }
    free(got);
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_store_close(s));
    return finish("test_procs");
}

int main(int argc, char **argv) {
    if (argc == 2) {
        return self_test(argv[1]);
    }
    if (argc == 8 || argc == 9) {
        uint64_t v[6] = {0, 0, 0, 0, 0, 4};
        for (int i = 3; i < argc; i++) {
            if (!parse_u64(argv[i], &v[i - 3])) {
                return 2;
            }
        }
        return run_writer(argv[1], argv[2], v[0], v[1], v[2], v[3], v[4], v[5]);
    }
    fprintf(stderr,
            "usage: test_procs STORE ARRAY_PATH PROC NPROCS WRITES FLUSH_EVERY SEED [STRIP]\n"
            "       test_procs WORKDIR   (self-test: four writer processes)\n");
    return 2;
}
