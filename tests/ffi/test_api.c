/* The C API end to end: version, status names, stores (directory, zip,
 * memory), groups, arrays created both ways, every getter, region reads and
 * writes in C and F order, linear byte ranges, 0-d arrays, string buffer
 * sizing. Usage: test_api WORKDIR (an empty temporary directory). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char g_dir[1024];

static const char *path_in(const char *name) {
    static char buf[2][1200];
    static int which = 0;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s/%s", g_dir, name);
    return buf[which];
}

/* Reads a string result of `f` into a malloc'd buffer sized by a first call. */
typedef zarrcore_status (*array_str_fn)(const zarrcore_array *, char *, size_t, size_t *);
static char *array_string(const zarrcore_array *a, array_str_fn f) {
    size_t len = 0;
    zarrcore_status st = f(a, NULL, 0, &len);
    CHECK(st == ZARRCORE_E_BUFFER_LENGTH);
    char *buf = malloc(len + 1);
    if (buf == NULL) {
        return NULL;
    }
    size_t len2 = 0;
    CHECK_OK(f(a, buf, len + 1, &len2));
    CHECK(len2 == len && strlen(buf) == len);
    return buf;
}

static void test_version_and_status(void) {
    CHECK(zarrcore_version() == ZARRCORE_VERSION_NUMBER);
    CHECK(strcmp(zarrcore_version_string(), ZARRCORE_VERSION_STRING) == 0);
    CHECK(ZARRCORE_ABI_VERSION == 0);
    CHECK(strcmp(zarrcore_status_str(ZARRCORE_OK), "ZARRCORE_OK") == 0);
    CHECK(strcmp(zarrcore_status_str(ZARRCORE_E_BUSY), "ZARRCORE_E_BUSY") == 0);
    CHECK(strcmp(zarrcore_status_str(ZARRCORE_E_PANIC), "ZARRCORE_E_PANIC") == 0);
    CHECK(strcmp(zarrcore_status_str(12345), "ZARRCORE_E_UNKNOWN") == 0);
    /* Every code from 0 to the last has a distinct name. */
    for (int c = 0; c >= ZARRCORE_E_INTERNAL; c--) {
        CHECK(strncmp(zarrcore_status_str(c), "ZARRCORE_", 9) == 0);
        CHECK(strcmp(zarrcore_status_str(c), "ZARRCORE_E_UNKNOWN") != 0);
    }
    /* Frozen numbers. */
    CHECK(ZARRCORE_E_NULL_ARGUMENT == -1 && ZARRCORE_E_INVALID_ARGUMENT == -2);
    CHECK(ZARRCORE_E_BUFFER_LENGTH == -3 && ZARRCORE_E_NOT_FOUND == -4);
    CHECK(ZARRCORE_E_BUSY == -6 && ZARRCORE_E_CODEC == -13 && ZARRCORE_E_PANIC == -16);
}

static void test_groups(const zarrcore_store *s) {
    zarrcore_group *root = NULL;
    CHECK_OK(zarrcore_group_create(s, "", ZARRCORE_FORMAT_V3, "{\"title\":\"root\",\"n\":3}",
                                   &root));
    CHECK(root != NULL);
    int32_t fmt = 0;
    CHECK_OK(zarrcore_group_zarr_format(root, &fmt));
    CHECK(fmt == ZARRCORE_FORMAT_V3);

    zarrcore_group *sub = NULL;
    CHECK_OK(zarrcore_group_create(s, "sub/deeper", ZARRCORE_FORMAT_V3, NULL, &sub));
    CHECK_OK(zarrcore_group_close(sub));

    char buf[512];
    size_t len = 0;
    CHECK_OK(zarrcore_group_attributes_get(root, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"title\":\"root\",\"n\":3}") == 0 && len == strlen(buf));
    CHECK_OK(zarrcore_group_attributes_set(root, "{\"title\":\"renamed\",\"list\":[1,2.5,null]}"));
    CHECK_OK(zarrcore_group_attributes_get(root, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"title\":\"renamed\",\"list\":[1,2.5,null]}") == 0);

    /* Reopen: the attributes were written to the store. */
    zarrcore_group *again = NULL;
    CHECK_OK(zarrcore_group_open(s, "/", &again));
    CHECK_OK(zarrcore_group_attributes_get(again, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"title\":\"renamed\",\"list\":[1,2.5,null]}") == 0);
    CHECK_OK(zarrcore_group_close(again));

    /* Members after an array exists beside the group. */
    zarrcore_array *a = NULL;
    uint64_t shape[1] = {4};
    CHECK_OK(zarrcore_array_create(s, "vec", ZARRCORE_FORMAT_V3, "int32", 1, shape, NULL, NULL,
                                   NULL, NULL, 0, &a));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_group_members(root, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "[{\"name\":\"sub\",\"kind\":\"group\"},{\"name\":\"vec\",\"kind\":\"array\"}]") ==
          0);
    /* Too small a buffer: the length is reported, the buffer untouched. */
    char small[8] = "xxxxxxx";
    size_t need = 0;
    CHECK(zarrcore_group_members(root, small, sizeof small, &need) == ZARRCORE_E_BUFFER_LENGTH);
    CHECK(need == len && strcmp(small, "xxxxxxx") == 0);
    CHECK_OK(zarrcore_group_close(root));
}

static double ref2d(uint64_t i, uint64_t j) { return (double)i * 1000.0 + (double)j + 0.25; }

static void test_float_array(const zarrcore_store *s) {
    const uint64_t shape[2] = {30, 40};
    const uint64_t chunks[2] = {8, 16};
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, "grp/temps", ZARRCORE_FORMAT_V3, "float64", 2, shape,
                                   chunks, NULL, "zstd:3", "-1.5", 0, &a));
    CHECK(a != NULL);

    size_t ndim = 0, item = 0;
    uint64_t got[2] = {0, 0}, nbytes = 0;
    int32_t dtype = 0, sharded = -1, fmt = 0, mode = -1;
    CHECK_OK(zarrcore_array_ndim(a, &ndim));
    CHECK(ndim == 2);
    CHECK_OK(zarrcore_array_shape(a, got, 2));
    CHECK(got[0] == 30 && got[1] == 40);
    CHECK_OK(zarrcore_array_chunk_shape(a, got, 2));
    CHECK(got[0] == 8 && got[1] == 16);
    got[0] = got[1] = 99;
    CHECK_OK(zarrcore_array_shard_shape(a, got, 2, &sharded));
    CHECK(sharded == 0 && got[0] == 99 && got[1] == 99);
    CHECK_OK(zarrcore_array_dtype(a, &dtype));
    CHECK(dtype == ZARRCORE_DTYPE_FLOAT64);
    CHECK_OK(zarrcore_array_item_size(a, &item));
    CHECK(item == 8);
    CHECK_OK(zarrcore_array_num_bytes(a, &nbytes));
    CHECK(nbytes == 30 * 40 * 8);
    CHECK_OK(zarrcore_array_zarr_format(a, &fmt));
    CHECK(fmt == ZARRCORE_FORMAT_V3);
    CHECK_OK(zarrcore_array_mode(a, &mode));
    CHECK(mode == ZARRCORE_MODE_WRITE);
    double fill = 0;
    CHECK_OK(zarrcore_array_fill_value(a, &fill, sizeof fill));
    CHECK(fill == -1.5);
    char *dt = array_string(a, zarrcore_array_dtype_str);
    CHECK(dt != NULL && strcmp(dt, "<f8") == 0);
    free(dt);
    char *meta = array_string(a, zarrcore_array_metadata_json);
    CHECK(meta != NULL && strstr(meta, "\"zarr_format\":3") != NULL);
    CHECK(meta != NULL && strstr(meta, "\"zstd\"") != NULL);
    CHECK(meta != NULL && strstr(meta, "\"fill_value\":-1.5") != NULL);
    free(meta);

    /* Write rows 3..25 x cols 5..37 in C order. */
    const uint64_t start[2] = {3, 5}, count[2] = {22, 32};
    double *buf = malloc(22 * 32 * sizeof(double));
    for (uint64_t i = 0; i < 22; i++) {
        for (uint64_t j = 0; j < 32; j++) {
            buf[i * 32 + j] = ref2d(i + 3, j + 5);
        }
    }
    CHECK_OK(zarrcore_array_write_region(a, start, count, 2, ZARRCORE_ORDER_C, buf,
                                         22 * 32 * sizeof(double)));
    /* Read-your-writes through the write handle, before any flush. */
    double back[4];
    const uint64_t s1[2] = {3, 5}, c1[2] = {2, 2};
    CHECK_OK(zarrcore_array_read_region(a, s1, c1, 2, ZARRCORE_ORDER_C, back, sizeof back));
    CHECK(back[0] == ref2d(3, 5) && back[1] == ref2d(3, 6) && back[2] == ref2d(4, 5));
    CHECK_OK(zarrcore_array_flush(a));
    CHECK_OK(zarrcore_array_close(a));

    /* Reopen for reading: the whole array, C and F order. */
    CHECK_OK(zarrcore_array_open(s, "grp/temps", ZARRCORE_MODE_READ, &a));
    CHECK_OK(zarrcore_array_mode(a, &mode));
    CHECK(mode == ZARRCORE_MODE_READ);
    double *all = malloc(30 * 40 * sizeof(double));
    double *allf = malloc(30 * 40 * sizeof(double));
    const uint64_t zero[2] = {0, 0};
    CHECK_OK(zarrcore_array_read_region(a, zero, shape, 2, ZARRCORE_ORDER_C, all,
                                        30 * 40 * sizeof(double)));
    CHECK_OK(zarrcore_array_read_region(a, zero, shape, 2, ZARRCORE_ORDER_F, allf,
                                        30 * 40 * sizeof(double)));
    int bad = 0, badf = 0;
    for (uint64_t i = 0; i < 30; i++) {
        for (uint64_t j = 0; j < 40; j++) {
            int inside = i >= 3 && i < 25 && j >= 5 && j < 37;
            double want = inside ? ref2d(i, j) : -1.5;
            bad += all[i * 40 + j] != want;
            badf += allf[j * 30 + i] != want;
        }
    }
    CHECK(bad == 0);
    CHECK(badf == 0);

    /* Linear bytes at an odd offset and length equal the C-order bytes. */
    unsigned char lin[1001];
    CHECK_OK(zarrcore_array_read_bytes(a, 777, lin, sizeof lin));
    CHECK(memcmp(lin, (unsigned char *)all + 777, sizeof lin) == 0);
    CHECK_OK(zarrcore_array_read_bytes(a, 0, NULL, 0));
    CHECK_OK(zarrcore_array_close(a));

    /* Write bytes (partial elements at both ends) through a write handle. */
    CHECK_OK(zarrcore_array_open(s, "grp/temps", ZARRCORE_MODE_WRITE, &a));
    unsigned char patch[21];
    for (size_t k = 0; k < sizeof patch; k++) {
        patch[k] = (unsigned char)(0xA0 + k);
    }
    CHECK_OK(zarrcore_array_write_bytes(a, 8 * 41 + 3, patch, sizeof patch));
    memcpy((unsigned char *)all + 8 * 41 + 3, patch, sizeof patch);
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_array_open(s, "grp/temps", ZARRCORE_MODE_READ, &a));
    CHECK_OK(zarrcore_array_read_region(a, zero, shape, 2, ZARRCORE_ORDER_C, allf,
                                        30 * 40 * sizeof(double)));
    CHECK(memcmp(all, allf, 30 * 40 * sizeof(double)) == 0);
    CHECK_OK(zarrcore_array_close(a));

    /* F-order writes land transposed. */
    CHECK_OK(zarrcore_array_open(s, "grp/temps", ZARRCORE_MODE_WRITE, &a));
    const uint64_t fs[2] = {10, 20}, fc[2] = {3, 2};
    double fbuf[6]; /* F order: (0,0) (1,0) (2,0) (0,1) (1,1) (2,1) */
    for (int k = 0; k < 6; k++) {
        fbuf[k] = 100.0 + k;
    }
    CHECK_OK(zarrcore_array_write_region(a, fs, fc, 2, ZARRCORE_ORDER_F, fbuf, sizeof fbuf));
    double cbuf[6];
    CHECK_OK(zarrcore_array_read_region(a, fs, fc, 2, ZARRCORE_ORDER_C, cbuf, sizeof cbuf));
    CHECK(cbuf[0] == 100 && cbuf[1] == 103 && cbuf[2] == 101 && cbuf[3] == 104 &&
          cbuf[4] == 102 && cbuf[5] == 105);
    CHECK_OK(zarrcore_array_close(a));
    free(buf);
    free(all);
    free(allf);
}

static void test_sharded_and_v2(const zarrcore_store *s) {
    /* v3, sharded, blosc, int16 with fill 7. */
    const uint64_t shape[2] = {50, 60}, chunks[2] = {5, 6}, shards[2] = {10, 12};
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, "sharded", ZARRCORE_FORMAT_V3, "int16", 2, shape, chunks,
                                   shards, "blosc:lz4:5:shuffle", "7", 0, &a));
    uint64_t got[2];
    int32_t sharded = 0;
    CHECK_OK(zarrcore_array_chunk_shape(a, got, 2));
    CHECK(got[0] == 5 && got[1] == 6);
    CHECK_OK(zarrcore_array_shard_shape(a, got, 2, &sharded));
    CHECK(sharded == 1 && got[0] == 10 && got[1] == 12);
    int16_t *data = malloc(50 * 60 * sizeof(int16_t));
    for (int k = 0; k < 50 * 60; k++) {
        data[k] = (int16_t)(k * 7 - 9000);
    }
    const uint64_t zero[2] = {0, 0};
    CHECK_OK(zarrcore_array_write_region(a, zero, shape, 2, ZARRCORE_ORDER_C, data,
                                         50 * 60 * sizeof(int16_t)));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_array_open(s, "sharded", ZARRCORE_MODE_READ, &a));
    int16_t *back = malloc(50 * 60 * sizeof(int16_t));
    CHECK_OK(zarrcore_array_read_region(a, zero, shape, 2, ZARRCORE_ORDER_C, back,
                                        50 * 60 * sizeof(int16_t)));
    CHECK(memcmp(data, back, 50 * 60 * sizeof(int16_t)) == 0);
    int16_t fill = 0;
    CHECK_OK(zarrcore_array_fill_value(a, &fill, sizeof fill));
    CHECK(fill == 7);
    CHECK_OK(zarrcore_array_close(a));
    free(data);
    free(back);

    /* v2, big-endian int32, zlib: the dtype string keeps the byte order,
     * buffers are native. */
    const uint64_t shape1[1] = {100}, chunk1[1] = {33};
    CHECK_OK(zarrcore_array_create(s, "v2/big", ZARRCORE_FORMAT_V2, ">i4", 1, shape1, chunk1,
                                   NULL, "zlib:1", "-3", 0, &a));
    int32_t vals[100];
    for (int k = 0; k < 100; k++) {
        vals[k] = k * 100000 - 123;
    }
    const uint64_t z1[1] = {0};
    CHECK_OK(zarrcore_array_write_region(a, z1, shape1, 1, ZARRCORE_ORDER_C, vals, sizeof vals));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_array_open(s, "v2/big", ZARRCORE_MODE_READ, &a));
    char dt[16];
    size_t len = 0;
    CHECK_OK(zarrcore_array_dtype_str(a, dt, sizeof dt, &len));
    CHECK(strcmp(dt, ">i4") == 0 && len == 3);
    int32_t fmt = 0;
    CHECK_OK(zarrcore_array_zarr_format(a, &fmt));
    CHECK(fmt == ZARRCORE_FORMAT_V2);
    int32_t vback[100];
    CHECK_OK(zarrcore_array_read_region(a, z1, shape1, 1, ZARRCORE_ORDER_C, vback, sizeof vback));
    CHECK(memcmp(vals, vback, sizeof vals) == 0);
    CHECK_OK(zarrcore_array_close(a));
}

static void test_create_json_and_attributes(const zarrcore_store *s) {
    const char *v3 =
        "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[6,4],\"data_type\":\"uint8\","
        "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[4,4]}},"
        "\"chunk_key_encoding\":{\"name\":\"default\",\"configuration\":{\"separator\":\"/\"}},"
        "\"fill_value\":9,\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"gzip\",\"configuration\":"
        "{\"level\":5}}],\"attributes\":{\"units\":\"K\"}}";
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create_json(s, "json/v3", v3, 0, &a));
    uint8_t row[4] = {1, 2, 3, 4};
    const uint64_t st[2] = {5, 0}, ct[2] = {1, 4};
    CHECK_OK(zarrcore_array_write_region(a, st, ct, 2, ZARRCORE_ORDER_C, row, sizeof row));
    char buf[256];
    size_t len = 0;
    CHECK_OK(zarrcore_array_attributes_get(a, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"units\":\"K\"}") == 0);
    CHECK_OK(zarrcore_array_attributes_set(a, "{\"units\":\"degC\",\"scale\":0.5}"));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_array_open(s, "json/v3", ZARRCORE_MODE_READ, &a));
    CHECK_OK(zarrcore_array_attributes_get(a, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"units\":\"degC\",\"scale\":0.5}") == 0);
    uint8_t all[24];
    const uint64_t z[2] = {0, 0}, sh[2] = {6, 4};
    CHECK_OK(zarrcore_array_read_region(a, z, sh, 2, ZARRCORE_ORDER_C, all, sizeof all));
    CHECK(all[0] == 9 && all[19] == 9 && all[20] == 1 && all[23] == 4);
    CHECK_OK(zarrcore_array_close(a));

    const char *v2 = "{\"zarr_format\":2,\"shape\":[5],\"chunks\":[2],\"dtype\":\"<f4\","
                     "\"compressor\":null,\"fill_value\":\"NaN\",\"order\":\"C\",\"filters\":null,"
                     "\"attributes\":{\"a\":1}}";
    CHECK_OK(zarrcore_array_create_json(s, "json/v2", v2, 0, &a));
    float f = 0;
    CHECK_OK(zarrcore_array_fill_value(a, &f, sizeof f));
    CHECK(isnan(f));
    CHECK_OK(zarrcore_array_attributes_get(a, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"a\":1}") == 0);
    /* Overwrite replaces it (the old handle must be closed first). */
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_array_create_json(s, "json/v2", v2, 1, &a));
    CHECK_OK(zarrcore_array_close(a));
}

static void test_zero_d_and_strings(const zarrcore_store *s) {
    zarrcore_array *a = NULL;
    CHECK_OK(zarrcore_array_create(s, "scalar", ZARRCORE_FORMAT_V3, "complex128", 0, NULL, NULL,
                                   NULL, "none", "[1.5, -2]", 0, &a));
    double c[2] = {0, 0};
    CHECK_OK(zarrcore_array_read_region(a, NULL, NULL, 0, ZARRCORE_ORDER_C, c, sizeof c));
    CHECK(c[0] == 1.5 && c[1] == -2.0);
    double w[2] = {3.25, 4.5};
    CHECK_OK(zarrcore_array_write_region(a, NULL, NULL, 0, ZARRCORE_ORDER_F, w, sizeof w));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_array_open(s, "scalar", ZARRCORE_MODE_READ, &a));
    size_t nd = 9;
    CHECK_OK(zarrcore_array_ndim(a, &nd));
    CHECK(nd == 0);
    CHECK_OK(zarrcore_array_shape(a, NULL, 0));
    CHECK_OK(zarrcore_array_read_bytes(a, 0, c, sizeof c));
    CHECK(c[0] == 3.25 && c[1] == 4.5);
    CHECK_OK(zarrcore_array_close(a));

    /* Fixed-length strings (v2). */
    const uint64_t shape[1] = {3};
    CHECK_OK(zarrcore_array_create(s, "names", ZARRCORE_FORMAT_V2, "|S5", 1, shape, NULL, NULL,
                                   NULL, NULL, 0, &a));
    int32_t dtype = 0;
    size_t item = 0;
    CHECK_OK(zarrcore_array_dtype(a, &dtype));
    CHECK(dtype == ZARRCORE_DTYPE_BYTES);
    CHECK_OK(zarrcore_array_item_size(a, &item));
    CHECK(item == 5);
    const char names[15] = {'a', 'l', 'p', 'h', 'a', 'b', 'e', 't', 'a', 0, 'x', 0, 0, 0, 0};
    const uint64_t z[1] = {0};
    CHECK_OK(zarrcore_array_write_region(a, z, shape, 1, ZARRCORE_ORDER_C, names, sizeof names));
    char nb[15];
    CHECK_OK(zarrcore_array_read_region(a, z, shape, 1, ZARRCORE_ORDER_C, nb, sizeof nb));
    CHECK(memcmp(nb, names, sizeof nb) == 0);
    CHECK_OK(zarrcore_array_close(a));
}

static void test_zip_and_memory(void) {
    const char *zip = path_in("data.zip");
    zarrcore_store *s = NULL;
    CHECK_OK(zarrcore_store_open(zip, ZARRCORE_STORE_CREATE, &s));
    zarrcore_array *a = NULL;
    const uint64_t shape[1] = {1000}, chunks[1] = {128};
    CHECK_OK(zarrcore_array_create(s, "x", ZARRCORE_FORMAT_V2, "<u4", 1, shape, chunks, NULL,
                                   "zstd:1", NULL, 0, &a));
    uint32_t v[1000];
    for (uint32_t k = 0; k < 1000; k++) {
        v[k] = k * k;
    }
    const uint64_t z[1] = {0};
    CHECK_OK(zarrcore_array_write_region(a, z, shape, 1, ZARRCORE_ORDER_C, v, sizeof v));
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_store_flush(s));
    CHECK_OK(zarrcore_store_close(s));

    CHECK_OK(zarrcore_store_open(zip, ZARRCORE_STORE_READ_ONLY, &s));
    CHECK_OK(zarrcore_array_open(s, "x", ZARRCORE_MODE_READ, &a));
    /* The store handle may be closed before the array (which keeps it). */
    CHECK_OK(zarrcore_store_close(s));
    uint32_t back[1000];
    CHECK_OK(zarrcore_array_read_region(a, z, shape, 1, ZARRCORE_ORDER_C, back, sizeof back));
    CHECK(memcmp(v, back, sizeof v) == 0);
    CHECK_OK(zarrcore_array_close(a));

    CHECK_OK(zarrcore_store_open("memory://test_api", ZARRCORE_STORE_CREATE, &s));
    CHECK_OK(zarrcore_array_create(s, "m", ZARRCORE_FORMAT_V3, "uint32", 1, shape, chunks, NULL,
                                   NULL, NULL, 0, &a));
    CHECK_OK(zarrcore_array_write_region(a, z, shape, 1, ZARRCORE_ORDER_C, v, sizeof v));
    CHECK_OK(zarrcore_array_close(a));
    zarrcore_store *s2 = NULL;
    CHECK_OK(zarrcore_store_open("memory://test_api", ZARRCORE_STORE_READ_ONLY, &s2));
    CHECK_OK(zarrcore_array_open(s2, "m", ZARRCORE_MODE_READ, &a));
    memset(back, 0, sizeof back);
    CHECK_OK(zarrcore_array_read_region(a, z, shape, 1, ZARRCORE_ORDER_C, back, sizeof back));
    CHECK(memcmp(v, back, sizeof v) == 0);
    CHECK_OK(zarrcore_array_close(a));
    CHECK_OK(zarrcore_store_close(s2));
    CHECK_OK(zarrcore_store_close(s));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    test_version_and_status();

    zarrcore_store *s = NULL;
    CHECK_OK(zarrcore_store_open(path_in("api.zarr"), ZARRCORE_STORE_CREATE, &s));
    test_groups(s);
    test_float_array(s);
    test_sharded_and_v2(s);
    test_create_json_and_attributes(s);
    test_zero_d_and_strings(s);
    CHECK_OK(zarrcore_store_close(s));
    test_zip_and_memory();

    /* Closing NULL is a no-op. */
    CHECK_OK(zarrcore_store_close(NULL));
    CHECK_OK(zarrcore_group_close(NULL));
    CHECK_OK(zarrcore_array_close(NULL));
    return finish("test_api");
}
