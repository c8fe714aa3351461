/* Several threads share one array handle: first 8 threads write disjoint
 * row bands through one write handle, then 8 threads read through one read
 * handle. (Read and write handles of one array never coexist in a
 * process: the write handle is closed before the read handle is opened.)
 *
 *   cc -std=c99 -pthread threads.c $(pkg-config --cflags --libs zarrcore)
 *   ./a.out /tmp/threads.zarr
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <zarrcore.h>

#define NT 8
#define ROWS 64
#define COLS 1000

struct job {
    const zarrcore_array *array;
    uint64_t row0;
    zarrcore_status status;
    double sum;
};

static void *write_band(void *p) {
    struct job *j = p;
    int32_t band[ROWS / NT * COLS];
    for (int k = 0; k < ROWS / NT * COLS; k++) {
        band[k] = (int32_t)(j->row0 * COLS + (uint64_t)k);
    }
    const uint64_t start[2] = {j->row0, 0}, count[2] = {ROWS / NT, COLS};
    j->status = zarrcore_array_write_region(j->array, start, count, 2, ZARRCORE_ORDER_C, band,
                                            sizeof band);
    return NULL;
}

static void *read_band(void *p) {
    struct job *j = p;
    int32_t band[ROWS / NT * COLS];
    const uint64_t start[2] = {j->row0, 0}, count[2] = {ROWS / NT, COLS};
    j->status = zarrcore_array_read_region(j->array, start, count, 2, ZARRCORE_ORDER_C, band,
                                           sizeof band);
    j->sum = 0;
    for (int k = 0; k < ROWS / NT * COLS; k++) {
        j->sum += band[k];
    }
    return NULL;
}

static int run(const zarrcore_array *a, void *(*fn)(void *), double *total) {
    pthread_t t[NT];
    struct job jobs[NT];
    for (int k = 0; k < NT; k++) {
        jobs[k].array = a;
        jobs[k].row0 = (uint64_t)k * (ROWS / NT);
        jobs[k].status = ZARRCORE_OK;
        jobs[k].sum = 0;
        pthread_create(&t[k], NULL, fn, &jobs[k]);
    }
    int failed = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(t[k], NULL);
        if (jobs[k].status != ZARRCORE_OK) {
            fprintf(stderr, "thread %d: %s\n", k, zarrcore_status_str(jobs[k].status));
            failed = 1;
        }
        *total += jobs[k].sum;
    }
    return failed;
}

int main(int argc, char **argv) {
    zarrcore_store *s = NULL;
    zarrcore_array *a = NULL;
    const uint64_t shape[2] = {ROWS, COLS}, chunks[2] = {5, 128};
    if (zarrcore_store_open(argc > 1 ? argv[1] : "threads.zarr", ZARRCORE_STORE_CREATE, &s) != 0 ||
        zarrcore_array_create(s, "counts", ZARRCORE_FORMAT_V3, "int32", 2, shape, chunks, NULL,
                              "blosc:lz4:5:shuffle", NULL, 1, &a) != 0) {
        char msg[512];
        zarrcore_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "setup failed: %s\n", msg);
        return 1;
    }
    double ignored = 0, total = 0;
    int failed = run(a, write_band, &ignored);
    failed |= zarrcore_array_close(a) != ZARRCORE_OK;
    failed |= zarrcore_array_open(s, "counts", ZARRCORE_MODE_READ, &a) != ZARRCORE_OK;
    failed |= run(a, read_band, &total);
    zarrcore_array_close(a);
    zarrcore_store_close(s);
    double n = (double)ROWS * COLS;
    printf("sum of %.0f values: %.0f (expected %.0f)\n", n, total, n * (n - 1) / 2);
    return failed || total != n * (n - 1) / 2;
}
