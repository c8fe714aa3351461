/* Create an array, write it, read a region back: the C API in one page.
 *
 *   cc -std=c99 create_write_read.c $(pkg-config --cflags --libs zarrcore)
 *   ./a.out /tmp/example.zarr
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <zarrcore.h>

/* Prints the failing call's status and this thread's message, then exits. */
static void check(zarrcore_status st, const char *what) {
    if (st != ZARRCORE_OK) {
        char msg[1024];
        zarrcore_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "%s failed: %s: %s\n", what, zarrcore_status_str(st), msg);
        exit(1);
    }
}

int main(int argc, char **argv) {
    const char *location = argc > 1 ? argv[1] : "example.zarr";
    printf("libzarrcore %s (header %s)\n", zarrcore_version_string(), ZARRCORE_VERSION_STRING);

    /* A directory store, created if needed. */
    zarrcore_store *store = NULL;
    check(zarrcore_store_open(location, ZARRCORE_STORE_CREATE, &store), "store_open");

    /* A 100 x 200 float64 array in 32 x 64 chunks, zstd level 3, NaN fill. */
    const uint64_t shape[2] = {100, 200}, chunks[2] = {32, 64};
    zarrcore_array *array = NULL;
    check(zarrcore_array_create(store, "measurements/temperature", ZARRCORE_FORMAT_V3, "float64",
                                2, shape, chunks, NULL, "zstd:3", "nan", 1, &array),
          "array_create");

    /* Write the whole array (C order, native byte order). */
    double *data = malloc(100 * 200 * sizeof(double));
    if (data == NULL) {
        return 1;
    }
    for (int i = 0; i < 100; i++) {
        for (int j = 0; j < 200; j++) {
            data[i * 200 + j] = i + j / 1000.0;
        }
    }
    const uint64_t origin[2] = {0, 0};
    check(zarrcore_array_write_region(array, origin, shape, 2, ZARRCORE_ORDER_C, data,
                                      100 * 200 * sizeof(double)),
          "write_region");
    check(zarrcore_array_close(array), "array_close"); /* flushes */
    free(data);

    /* Reopen for reading and read a 3 x 4 region that crosses chunk edges. */
    check(zarrcore_array_open(store, "measurements/temperature", ZARRCORE_MODE_READ, &array),
          "array_open");
    const uint64_t start[2] = {30, 62}, count[2] = {3, 4};
    double region[12];
    check(zarrcore_array_read_region(array, start, count, 2, ZARRCORE_ORDER_C, region,
                                     sizeof region),
          "read_region");
    for (int i = 0; i < 3; i++) {
        printf("row %d:", 30 + i);
        for (int j = 0; j < 4; j++) {
            printf(" %.3f", region[i * 4 + j]);
        }
        printf("\n");
    }
    char dtype[16];
    size_t len = 0;
    check(zarrcore_array_dtype_str(array, dtype, sizeof dtype, &len), "dtype_str");
    printf("dtype %s, region[1][2] = %.3f\n", dtype, region[1 * 4 + 2]);
    int ok = region[1 * 4 + 2] == 31 + 64 / 1000.0;

    check(zarrcore_array_close(array), "array_close");
    check(zarrcore_store_close(store), "store_close");
    return ok ? 0 : 1;
}
