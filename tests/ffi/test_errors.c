/* Error paths of the C API: each gives its documented status and a message
 * naming the cause. NULL pointers, bad enums, wrong buffer lengths, out of
 * bounds, missing nodes, corrupt chunks, mixed modes, read-only stores,
 * bad JSON/dtype/codec/fill text, wrong handle types, per-thread messages,
 * and a forced panic. Usage: test_errors WORKDIR */
#include <pthread.h>
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

static void test_null_arguments(const zarrcore_store *s, const zarrcore_array *a) {
    zarrcore_store *out = (zarrcore_store *)&g_pass; /* garbage the call must reset */
    CHECK_ERR(zarrcore_store_open(NULL, ZARRCORE_STORE_READ_ONLY, &out), ZARRCORE_E_NULL_ARGUMENT,
              "`location` is NULL");
    CHECK(out == NULL);
    CHECK_ERR(zarrcore_store_open(g_dir, ZARRCORE_STORE_READ_ONLY, NULL),
              ZARRCORE_E_NULL_ARGUMENT, "`out_store` is NULL");
    zarrcore_array *arr = (zarrcore_array *)&g_pass;
    CHECK_ERR(zarrcore_array_open(NULL, "a", ZARRCORE_MODE_READ, &arr), ZARRCORE_E_NULL_ARGUMENT,
              "`store` is NULL");
    CHECK(arr == NULL);
    CHECK_ERR(zarrcore_array_open(s, NULL, ZARRCORE_MODE_READ, &arr), ZARRCORE_E_NULL_ARGUMENT,
              "`path` is NULL");
    size_t n = 0;
    CHECK_ERR(zarrcore_array_ndim(NULL, &n), ZARRCORE_E_NULL_ARGUMENT, "`array` is NULL");
    CHECK_ERR(zarrcore_array_ndim(a, NULL), ZARRCORE_E_NULL_ARGUMENT, "`out_ndim` is NULL");
    uint64_t start[2] = {0, 0}, count[2] = {2, 2};
    double buf[4];
    CHECK_ERR(zarrcore_array_read_region(a, NULL, count, 2, ZARRCORE_ORDER_C, buf, sizeof buf),
              ZARRCORE_E_NULL_ARGUMENT, "`start` is NULL");
    CHECK_ERR(zarrcore_array_read_region(a, start, NULL, 2, ZARRCORE_ORDER_C, buf, sizeof buf),
              ZARRCORE_E_NULL_ARGUMENT, "`count` is NULL");
    CHECK_ERR(zarrcore_array_read_region(a, start, count, 2, ZARRCORE_ORDER_C, NULL, sizeof buf),
              ZARRCORE_E_NULL_ARGUMENT, "`buf` is NULL");
    CHECK_ERR(zarrcore_array_read_bytes(a, 0, NULL, 8), ZARRCORE_E_NULL_ARGUMENT, "`buf` is NULL");
    CHECK_ERR(zarrcore_array_shape(a, NULL, 2), ZARRCORE_E_NULL_ARGUMENT, "`out_shape` is NULL");
    CHECK_ERR(zarrcore_array_dtype_str(a, NULL, 0, NULL), ZARRCORE_E_NULL_ARGUMENT,
              "`out_len` is NULL");
    CHECK_ERR(zarrcore_array_attributes_set(a, NULL), ZARRCORE_E_NULL_ARGUMENT,
              "`attributes_json` is NULL");
    CHECK_ERR(zarrcore_array_create(s, "x", ZARRCORE_FORMAT_V3, NULL, 2, count, NULL, NULL, NULL,
                                    NULL, 0, &arr),
              ZARRCORE_E_NULL_ARGUMENT, "`dtype` is NULL");
    CHECK_ERR(zarrcore_array_create(s, "x", ZARRCORE_FORMAT_V3, "int8", 2, NULL, NULL, NULL, NULL,
                                    NULL, 0, &arr),
              ZARRCORE_E_NULL_ARGUMENT, "`shape` is NULL");
    CHECK_ERR(zarrcore_group_open(s, "", NULL), ZARRCORE_E_NULL_ARGUMENT, "`out_group` is NULL");
    CHECK_ERR(zarrcore_group_members(NULL, NULL, 0, &n), ZARRCORE_E_NULL_ARGUMENT,
              "`group` is NULL");
    CHECK_ERR(zarrcore_store_flush(NULL), ZARRCORE_E_NULL_ARGUMENT, "`store` is NULL");
    CHECK_ERR(zarrcore_array_flush(NULL), ZARRCORE_E_NULL_ARGUMENT, "`array` is NULL");
    /* The message functions' own contract. */
    CHECK(zarrcore_error_message(NULL, 10, NULL) == ZARRCORE_E_NULL_ARGUMENT);
}

static void test_bad_enums(const zarrcore_store *s, const zarrcore_array *a) {
    zarrcore_store *st = NULL;
    CHECK_ERR(zarrcore_store_open(g_dir, 3, &st), ZARRCORE_E_INVALID_ARGUMENT,
              "`mode`: is 3; expected ZARRCORE_STORE_READ_ONLY");
    CHECK_ERR(zarrcore_store_open(g_dir, -1, &st), ZARRCORE_E_INVALID_ARGUMENT, "is -1");
    zarrcore_array *arr = NULL;
    CHECK_ERR(zarrcore_array_open(s, "e", 2, &arr), ZARRCORE_E_INVALID_ARGUMENT,
              "expected ZARRCORE_MODE_READ (0) or ZARRCORE_MODE_WRITE (1)");
    uint64_t start[2] = {0, 0}, count[2] = {2, 2}, shape[2] = {4, 4};
    double buf[4];
    CHECK_ERR(zarrcore_array_read_region(a, start, count, 2, 2, buf, sizeof buf),
              ZARRCORE_E_INVALID_ARGUMENT, "`order`: is 2");
    CHECK_ERR(zarrcore_array_write_region(a, start, count, 2, 7, buf, sizeof buf),
              ZARRCORE_E_INVALID_ARGUMENT, "`order`: is 7");
    CHECK_ERR(zarrcore_array_create(s, "x", 4, "int8", 2, shape, NULL, NULL, NULL, NULL, 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`zarr_format`: is 4");
    CHECK_ERR(zarrcore_array_create(s, "x", ZARRCORE_FORMAT_V3, "int8", 2, shape, NULL, NULL, NULL,
                                    NULL, 2, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`overwrite`: is 2");
    zarrcore_group *g = NULL;
    CHECK_ERR(zarrcore_group_create(s, "g", 1, NULL, &g), ZARRCORE_E_INVALID_ARGUMENT,
              "`zarr_format`: is 1");
    CHECK_ERR(zarrcore_test_force_panic(5), ZARRCORE_E_INVALID_ARGUMENT, "`armed` is 5");
}

static void test_buffers_and_bounds(const zarrcore_array *a) {
    /* `a` is float64 of shape {4, 4}. */
    uint64_t start[2] = {1, 1}, count[2] = {2, 3};
    double buf[6];
    CHECK_ERR(zarrcore_array_read_region(a, start, count, 2, ZARRCORE_ORDER_C, buf,
                                         sizeof buf - 1),
              ZARRCORE_E_BUFFER_LENGTH, "buffer has 47 bytes, the region needs 48");
    CHECK_ERR(zarrcore_array_write_region(a, start, count, 2, ZARRCORE_ORDER_C, buf, 56),
              ZARRCORE_E_BUFFER_LENGTH, "buffer has 56 bytes, the region needs 48");
    uint64_t shape[3];
    CHECK_ERR(zarrcore_array_shape(a, shape, 3), ZARRCORE_E_BUFFER_LENGTH,
              "has room for 3 values, the array has 2 dimensions");
    CHECK_ERR(zarrcore_array_chunk_shape(a, shape, 1), ZARRCORE_E_BUFFER_LENGTH,
              "has room for 1 values");
    int32_t sharded = 0;
    CHECK_ERR(zarrcore_array_shard_shape(a, shape, 1, &sharded), ZARRCORE_E_BUFFER_LENGTH,
              "`out_shards`");
    float f;
    CHECK_ERR(zarrcore_array_fill_value(a, &f, sizeof f), ZARRCORE_E_BUFFER_LENGTH,
              "has 4 bytes, the item size is 8");
    char small[3];
    size_t len = 0;
    CHECK_ERR(zarrcore_array_dtype_str(a, small, sizeof small, &len), ZARRCORE_E_BUFFER_LENGTH,
              "too small");
    CHECK(len == 3);

    uint64_t far[2] = {3, 3};
    CHECK_ERR(zarrcore_array_read_region(a, far, count, 2, ZARRCORE_ORDER_C, buf, sizeof buf),
              ZARRCORE_E_OUT_OF_BOUNDS, "out of bounds for shape [4, 4]");
    uint64_t huge[2] = {UINT64_MAX, 1};
    CHECK_ERR(zarrcore_array_read_region(a, huge, count, 2, ZARRCORE_ORDER_C, buf, sizeof buf),
              ZARRCORE_E_OUT_OF_BOUNDS, "out of bounds");
    CHECK_ERR(zarrcore_array_read_region(a, start, count, 1, ZARRCORE_ORDER_C, buf, sizeof buf),
              ZARRCORE_E_INVALID_ARGUMENT, "`ndim`: is 1, the array \"errs/a\" has 2 dimensions");
    unsigned char b[16];
    CHECK_ERR(zarrcore_array_read_bytes(a, 120, b, sizeof b), ZARRCORE_E_OUT_OF_BOUNDS,
              "bytes 120..136 are outside the 128 bytes");
    CHECK_ERR(zarrcore_array_read_bytes(a, UINT64_MAX, b, sizeof b), ZARRCORE_E_OUT_OF_BOUNDS,
              "outside");
}

static void test_missing_and_existing(const zarrcore_store *s) {
    zarrcore_array *arr = (zarrcore_array *)&g_pass;
    CHECK_ERR(zarrcore_array_open(s, "no/such/array", ZARRCORE_MODE_READ, &arr),
              ZARRCORE_E_NOT_FOUND, "\"no/such/array\"");
    CHECK(arr == NULL);
    zarrcore_group *g = NULL;
    CHECK_ERR(zarrcore_group_open(s, "nothing_here", &g), ZARRCORE_E_NOT_FOUND, "nothing_here");
    zarrcore_store *st = NULL;
    CHECK_ERR(zarrcore_store_open(path_in("does-not-exist.zarr"), ZARRCORE_STORE_READ_ONLY, &st),
              ZARRCORE_E_STORE, "does-not-exist.zarr");
    CHECK_ERR(zarrcore_store_open("ftp://host/x", ZARRCORE_STORE_READ_ONLY, &st), ZARRCORE_E_STORE,
              "unsupported URL scheme");
    CHECK(st == NULL);
    uint64_t shape[2] = {4, 4};
    CHECK_ERR(zarrcore_array_create(s, "errs/a", ZARRCORE_FORMAT_V3, "float64", 2, shape, NULL,
                                    NULL, NULL, NULL, 0, &arr),
              ZARRCORE_E_ALREADY_EXISTS, "\"errs/a\" already exists");
    CHECK_ERR(zarrcore_group_create(s, "errs/a", ZARRCORE_FORMAT_V3, NULL, &g),
              ZARRCORE_E_ALREADY_EXISTS, "an array");
    /* A path that escapes the store is refused. */
    CHECK_ERR(zarrcore_array_open(s, "../outside", ZARRCORE_MODE_READ, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "..");
}

static void test_bad_text(const zarrcore_store *s, const zarrcore_array *a) {
    zarrcore_array *arr = NULL;
    uint64_t shape[1] = {10};
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "float128", 1, shape, NULL, NULL,
                                    NULL, NULL, 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`dtype`: unsupported data type \"float128\"");
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "int16", 1, shape, NULL, NULL,
                                    "zstd:x", NULL, 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`codec`");
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "int16", 1, shape, NULL, NULL,
                                    "lz4:1", NULL, 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "only available for Zarr v2");
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "int16", 1, shape, NULL, NULL,
                                    NULL, "abc", 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`fill_value`");
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "uint8", 1, shape, NULL, NULL,
                                    NULL, "300", 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "does not fit");
    uint64_t chunks[1] = {0};
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "int16", 1, shape, chunks, NULL,
                                    NULL, NULL, 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "contain a zero");
    uint64_t c4[1] = {4}, s6[1] = {6};
    CHECK_ERR(zarrcore_array_create(s, "t", ZARRCORE_FORMAT_V3, "int16", 1, shape, c4, s6, NULL,
                                    NULL, 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "multiple of chunks");
    CHECK_ERR(zarrcore_array_create_json(s, "t", "{not json", 0, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`metadata_json`: is not valid JSON");
    CHECK_ERR(zarrcore_array_create_json(s, "t", "{\"zarr_format\": 3, \"node_type\": \"array\"}",
                                         0, &arr),
              ZARRCORE_E_METADATA, "zarr.json");
    CHECK_ERR(zarrcore_array_create_json(
                  s, "t",
                  "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[4],\"data_type\":\"int8\","
                  "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[4]}},"
                  "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":0,"
                  "\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"no_such_codec\"}]}",
                  0, &arr),
              ZARRCORE_E_UNSUPPORTED, "no_such_codec");
    CHECK_ERR(zarrcore_array_attributes_set(a, "{\"unterminated\": "), ZARRCORE_E_INVALID_ARGUMENT,
              "is not valid JSON");
    CHECK_ERR(zarrcore_array_attributes_set(a, "[1, 2]"), ZARRCORE_E_INVALID_ARGUMENT,
              "must be a JSON object, not an array");
    const char bad_utf8[] = {'a', (char)0xff, 'b', 0};
    CHECK_ERR(zarrcore_array_open(s, bad_utf8, ZARRCORE_MODE_READ, &arr),
              ZARRCORE_E_INVALID_ARGUMENT, "`path`: is not valid UTF-8");
}

static void test_wrong_handle_type(const zarrcore_store *s) {
    size_t n = 0;
    /* A store handle passed where an array is expected (as `void *` users
     * like ctypes or Julia can do) is refused, not misused. */
    CHECK_ERR(zarrcore_array_ndim((const zarrcore_array *)(const void *)s, &n),
              ZARRCORE_E_INVALID_ARGUMENT, "is not a live zarrcore_array handle");
    CHECK_ERR(zarrcore_group_members((const zarrcore_group *)(const void *)s, NULL, 0, &n),
              ZARRCORE_E_INVALID_ARGUMENT, "zarrcore_group");
}

static void test_corrupt_chunk(const zarrcore_store *s) {
    zarrcore_array *a = NULL;
    uint64_t shape[2] = {8, 8}, chunks[2] = {4, 4};
    CHECK_OK(zarrcore_array_create(s, "corrupt", ZARRCORE_FORMAT_V3, "int32", 2, shape, chunks,
                                   NULL, "zstd:1", NULL, 0, &a));
    int32_t v[64];
    for (int k = 0; k < 64; k++) {
        v[k] = k;
    }
    uint64_t z[2] = {0, 0};
    CHECK_OK(zarrcore_array_write_region(a, z, shape, 2, ZARRCORE_ORDER_C, v, sizeof v));
    CHECK_OK(zarrcore_array_close(a));
    /* Replace chunk c/1/0 with garbage. */
    FILE *f = fopen(path_in("errors.zarr/corrupt/c/1/0"), "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("this is not a zstd frame", f);
        fclose(f);
    }
    CHECK_OK(zarrcore_array_open(s, "corrupt", ZARRCORE_MODE_READ, &a));
    int32_t back[64];
    CHECK_ERR(zarrcore_array_read_region(a, z, shape, 2, ZARRCORE_ORDER_C, back, sizeof back),
              ZARRCORE_E_CODEC, "chunk \"corrupt/c/1/0\": zstd");
    /* The other chunks still read. */
    uint64_t c[2] = {4, 8};
    CHECK_OK(zarrcore_array_read_region(a, z, c, 2, ZARRCORE_ORDER_C, back, 32 * sizeof(int32_t)));
    CHECK(memcmp(back, v, 32 * sizeof(int32_t)) == 0);
    unsigned char b[4];
    CHECK_ERR(zarrcore_array_read_bytes(a, 4 * 8 * 4, b, sizeof b), ZARRCORE_E_CODEC,
              "corrupt/c/1/0");
    CHECK_OK(zarrcore_array_close(a));
}

static void test_modes(const zarrcore_store *s) {
    zarrcore_array *r1 = NULL, *r2 = NULL, *w = NULL;
    CHECK_OK(zarrcore_array_open(s, "errs/a", ZARRCORE_MODE_READ, &r1));
    CHECK_OK(zarrcore_array_open(s, "errs/a", ZARRCORE_MODE_READ, &r2));
    CHECK_ERR(zarrcore_array_open(s, "errs/a", ZARRCORE_MODE_WRITE, &w), ZARRCORE_E_BUSY,
              "array \"errs/a\" is busy: 2 read handles are open in this process; reads and writes never mix");
    CHECK(w == NULL);
    uint64_t z[2] = {0, 0}, one[2] = {1, 1};
    double d = 1.0;
    CHECK_ERR(zarrcore_array_write_region(r1, z, one, 2, ZARRCORE_ORDER_C, &d, sizeof d),
              ZARRCORE_E_MODE, "open for reading");
    CHECK_ERR(zarrcore_array_write_bytes(r1, 0, &d, sizeof d), ZARRCORE_E_MODE,
              "open for reading");
    /* Replacing an array with open handles is refused too. */
    uint64_t shape[2] = {4, 4};
    CHECK_ERR(zarrcore_array_create(s, "errs/a", ZARRCORE_FORMAT_V3, "float64", 2, shape, NULL,
                                    NULL, NULL, NULL, 1, &w),
              ZARRCORE_E_BUSY, "errs/a");
    CHECK_OK(zarrcore_array_close(r1));
    CHECK_ERR(zarrcore_array_open(s, "errs/a", ZARRCORE_MODE_WRITE, &w), ZARRCORE_E_BUSY,
              "1 read handle is open in this process");
    CHECK_OK(zarrcore_array_close(r2));
    CHECK_OK(zarrcore_array_open(s, "errs/a", ZARRCORE_MODE_WRITE, &w));
    CHECK_ERR(zarrcore_array_open(s, "errs/a", ZARRCORE_MODE_READ, &r1), ZARRCORE_E_BUSY,
              "1 write handle is open in this process");
    CHECK_OK(zarrcore_array_write_region(w, z, one, 2, ZARRCORE_ORDER_C, &d, sizeof d));
    CHECK_OK(zarrcore_array_close(w));

    /* Read-only store. */
    zarrcore_store *ro = NULL;
    CHECK_OK(zarrcore_store_open(path_in("errors.zarr"), ZARRCORE_STORE_READ_ONLY, &ro));
    CHECK_ERR(zarrcore_array_open(ro, "errs/a", ZARRCORE_MODE_WRITE, &w), ZARRCORE_E_READ_ONLY,
              "read-only");
    zarrcore_group *g = NULL;
    CHECK_ERR(zarrcore_group_create(ro, "newgroup", ZARRCORE_FORMAT_V3, NULL, &g),
              ZARRCORE_E_READ_ONLY, "read-only");
    CHECK_OK(zarrcore_array_open(ro, "errs/a", ZARRCORE_MODE_READ, &r1));
    /* Attributes are written through write handles only. */
    CHECK_ERR(zarrcore_array_attributes_set(r1, "{}"), ZARRCORE_E_MODE, "open for reading");
    CHECK_OK(zarrcore_array_close(r1));
    CHECK_OK(zarrcore_store_close(ro));
}

static void test_forced_panic(const zarrcore_array *a) {
    size_t n = 0;
    CHECK_OK(zarrcore_test_force_panic(1));
    CHECK_ERR(zarrcore_array_ndim(a, &n), ZARRCORE_E_PANIC,
              "zarrcore_array_ndim: panic inside zarrcore");
    /* One-shot, and the library keeps working. */
    CHECK_OK(zarrcore_array_ndim(a, &n));
    CHECK(n == 2);
    CHECK_OK(zarrcore_test_force_panic(1));
    CHECK_OK(zarrcore_test_force_panic(0));
    CHECK_OK(zarrcore_array_ndim(a, &n));
    /* A panic in a call that allocates and returns a handle leaks nothing. */
    zarrcore_store *st = (zarrcore_store *)&g_pass;
    CHECK_OK(zarrcore_test_force_panic(1));
    CHECK_ERR(zarrcore_store_open(g_dir, ZARRCORE_STORE_READ_ONLY, &st), ZARRCORE_E_PANIC,
              "forced by zarrcore_test_force_panic");
    CHECK(st == (zarrcore_store *)&g_pass || st == NULL);
}

/* Messages are per thread: another thread's failure does not change ours. */
static void *other_thread(void *arg) {
    const zarrcore_store *s = arg;
    zarrcore_array *a = NULL;
    zarrcore_status st = zarrcore_array_open(s, "only/in/thread", ZARRCORE_MODE_READ, &a);
    char msg[256];
    zarrcore_error_message(msg, sizeof msg, NULL);
    int ok = st == ZARRCORE_E_NOT_FOUND && strstr(msg, "only/in/thread") != NULL;
    return ok ? arg : NULL;
}

static void test_thread_messages(const zarrcore_store *s) {
    zarrcore_array *a = NULL;
    CHECK_ERR(zarrcore_array_open(s, "main/thread/path", ZARRCORE_MODE_READ, &a),
              ZARRCORE_E_NOT_FOUND, "main/thread/path");
    pthread_t t;
    void *res = NULL;
    CHECK(pthread_create(&t, NULL, other_thread, (void *)s) == 0);
    CHECK(pthread_join(t, &res) == 0);
    CHECK(res == s);
    CHECK(strstr(last_msg(), "main/thread/path") != NULL);
    CHECK(strstr(last_msg(), "only/in/thread") == NULL);
    /* Truncation keeps a NUL and reports the full length. */
    char tiny[10];
    size_t full = 0;
    CHECK_OK(zarrcore_error_message(tiny, sizeof tiny, &full));
    CHECK(strlen(tiny) == 9 && full > 9 && strncmp(tiny, "zarrcore_", 9) == 0);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    zarrcore_store *s = NULL;
    CHECK_OK(zarrcore_store_open(path_in("errors.zarr"), ZARRCORE_STORE_CREATE, &s));
    zarrcore_array *a = NULL;
    uint64_t shape[2] = {4, 4};
    CHECK_OK(zarrcore_array_create(s, "errs/a", ZARRCORE_FORMAT_V3, "float64", 2, shape, NULL,
                                   NULL, NULL, NULL, 0, &a));
    test_null_arguments(s, a);
    test_bad_enums(s, a);
    test_buffers_and_bounds(a);
    test_bad_text(s, a);
    test_wrong_handle_type(s);
    test_forced_panic(a);
    CHECK_OK(zarrcore_array_close(a));
    test_missing_and_existing(s);
    test_corrupt_chunk(s);
    test_modes(s);
    test_thread_messages(s);
    CHECK_OK(zarrcore_store_close(s));
    return finish("test_errors");
}
