/* Reads every public fixture of the zarr-python corpus through the C API and
 * compares with the expected values: metadata (format, shape, chunks,
 * shards, dtype, item size, fill value, attributes), the whole array in C
 * and F order, sub-regions crossing chunk edges, and linear byte ranges,
 * against the expected .npy files, which this program parses itself.
 * Groups: format, attributes and members.
 *
 * Usage: test_fixtures DIGEST.txt   (written by digest_manifest.py) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MAXD 8
#define MAXF 64

static int g_arrays = 0, g_groups = 0;

/* ---- small helpers ------------------------------------------------------ */

static int hex_decode(const char *hex, unsigned char *out, size_t cap, size_t *len) {
    size_t n = strlen(hex);
    if (strcmp(hex, "-") == 0) {
        *len = 0;
        return 1;
    }
    if (n % 2 != 0 || n / 2 > cap) {
        return 0;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return 0;
        }
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 1;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf != NULL && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

/* A parsed .npy file (C order only). */
struct npy {
    unsigned char *file;
    const unsigned char *data;
    size_t data_len;
    char descr[32];
    size_t ndim;
    uint64_t shape[MAXD];
};

static int npy_load(const char *path, struct npy *out) {
    size_t len = 0;
    memset(out, 0, sizeof *out);
    out->file = read_file(path, &len);
    if (out->file == NULL || len < 12 || memcmp(out->file, "\x93NUMPY", 6) != 0) {
        return 0;
    }
    size_t hlen, hstart;
    if (out->file[6] == 1) {
        hlen = (size_t)out->file[8] | ((size_t)out->file[9] << 8);
        hstart = 10;
    } else {
        hlen = (size_t)out->file[8] | ((size_t)out->file[9] << 8) | ((size_t)out->file[10] << 16) |
               ((size_t)out->file[11] << 24);
        hstart = 12;
    }
    if (hstart + hlen > len) {
        return 0;
    }
    char *hdr = malloc(hlen + 1);
    memcpy(hdr, out->file + hstart, hlen);
    hdr[hlen] = '\0';
    int ok = 1;
    const char *d = strstr(hdr, "'descr': '");
    if (d == NULL || sscanf(d + 10, "%31[^']", out->descr) != 1) {
        ok = 0;
    }
    if (strstr(hdr, "'fortran_order': False") == NULL) {
        ok = 0;
    }
    const char *s = strstr(hdr, "'shape': (");
    if (s == NULL) {
        ok = 0;
    } else {
        s += 10;
        while (*s != ')' && *s != '\0' && out->ndim < MAXD) {
            char *end;
            unsigned long long v = strtoull(s, &end, 10);
            if (end == s) {
                break;
            }
            out->shape[out->ndim++] = v;
            s = end;
            while (*s == ',' || *s == ' ') {
                s++;
            }
        }
    }
    free(hdr);
    out->data = out->file + hstart + hlen;
    out->data_len = len - hstart - hlen;
    return ok;
}

/* ---- value comparison: exact bytes, except that any NaN equals any NaN -- */

struct elem_kind {
    char kind;       /* b i u f c S U */
    size_t size;     /* item size in bytes */
    size_t fsize;    /* float component size (f, c), else 0 */
};

static int kind_of(const char *dtype, struct elem_kind *k) {
    k->kind = dtype[1];
    long n = strtol(dtype + 2, NULL, 10);
    if (n <= 0) {
        return 0;
    }
    k->size = k->kind == 'U' ? (size_t)n * 4 : (size_t)n;
    k->fsize = k->kind == 'f' ? (size_t)n : k->kind == 'c' ? (size_t)n / 2 : 0;
    return 1;
}

static int is_nan(const unsigned char *p, size_t size) {
    if (size == 2) {
        uint16_t h;
        memcpy(&h, p, 2);
        return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
    }
    if (size == 4) {
        float f;
        memcpy(&f, p, 4);
        return f != f;
    }
    double d;
    memcpy(&d, p, 8);
    return d != d;
}

static int same_elem(const unsigned char *a, const unsigned char *b, const struct elem_kind *k) {
    if (k->fsize == 0) {
        return memcmp(a, b, k->size) == 0;
    }
    for (size_t off = 0; off < k->size; off += k->fsize) {
        int na = is_nan(a + off, k->fsize), nb = is_nan(b + off, k->fsize);
        if (na || nb) {
            if (!(na && nb)) {
                return 0;
            }
        } else if (memcmp(a + off, b + off, k->fsize) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Number of differing elements between two buffers of n elements. */
static size_t count_diff(const unsigned char *a, const unsigned char *b, size_t n,
                         const struct elem_kind *k) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d += !same_elem(a + i * k->size, b + i * k->size, k);
    }
    return d;
}

static uint64_t prod(const uint64_t *v, size_t n) {
    uint64_t p = 1;
    for (size_t i = 0; i < n; i++) {
        p *= v[i];
    }
    return p;
}

/* Copies the sub-region start/count of a C-order array of `shape` into out. */
static void slice_c(const unsigned char *src, const uint64_t *shape, size_t nd,
                    const uint64_t *start, const uint64_t *count, size_t elem,
                    unsigned char *out) {
    uint64_t n = prod(count, nd);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t rem = k, off = 0, stride = 1;
        uint64_t idx[MAXD];
        for (size_t d = nd; d-- > 0;) {
            idx[d] = rem % count[d];
            rem /= count[d];
        }
        for (size_t d = nd; d-- > 0;) {
            off += (start[d] + idx[d]) * stride;
            stride *= shape[d];
        }
        memcpy(out + k * elem, src + off * elem, elem);
    }
}

/* Converts an F-order buffer of `shape` to C order. */
static void f_to_c(const unsigned char *f, const uint64_t *shape, size_t nd, size_t elem,
                   unsigned char *c) {
    uint64_t n = prod(shape, nd);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t rem = k, off = 0, stride = 1;
        uint64_t idx[MAXD];
        for (size_t d = nd; d-- > 0;) {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        for (size_t d = 0; d < nd; d++) {
            off += idx[d] * stride;
            stride *= shape[d];
        }
        memcpy(c + k * elem, f + off * elem, elem);
    }
}

static int32_t dtype_code(char kind, size_t size) {
    switch (kind) {
    case 'b': return ZARRCORE_DTYPE_BOOL;
    case 'i': return size == 1 ? ZARRCORE_DTYPE_INT8 : size == 2 ? ZARRCORE_DTYPE_INT16
                   : size == 4 ? ZARRCORE_DTYPE_INT32 : ZARRCORE_DTYPE_INT64;
    case 'u': return size == 1 ? ZARRCORE_DTYPE_UINT8 : size == 2 ? ZARRCORE_DTYPE_UINT16
                   : size == 4 ? ZARRCORE_DTYPE_UINT32 : ZARRCORE_DTYPE_UINT64;
    case 'f': return size == 2 ? ZARRCORE_DTYPE_FLOAT16 : size == 4 ? ZARRCORE_DTYPE_FLOAT32
                   : ZARRCORE_DTYPE_FLOAT64;
    case 'c': return size == 8 ? ZARRCORE_DTYPE_COMPLEX64 : ZARRCORE_DTYPE_COMPLEX128;
    case 'S': return ZARRCORE_DTYPE_BYTES;
    case 'U': return ZARRCORE_DTYPE_UNICODE;
    default: return -1;
    }
}

static void fail(const char *id, const char *what) {
    g_fail++;
    fprintf(stderr, "%s: %s (%s)\n", id, what, last_msg());
}

#define EXPECT(id, cond, what) \
    do {                       \
        if (cond) {            \
            g_pass++;          \
        } else {               \
            fail(id, what);    \
        }                      \
    } while (0)

/* ---- one array ---------------------------------------------------------- */

static void check_array(char **f, int nf) {
    int p = 1;
    const char *id = f[p++], *store_path = f[p++], *apath = f[p++];
    int zfmt = atoi(f[p++]);
    const char *dtype = f[p++];
    size_t nd = (size_t)atoi(f[p++]);
    uint64_t shape[MAXD], chunks[MAXD], shards[MAXD];
    if (nd > MAXD || nf < (int)(p + 2 * nd + 4)) {
        fail(id, "malformed digest line");
        return;
    }
    for (size_t d = 0; d < nd; d++) shape[d] = strtoull(f[p++], NULL, 10);
    for (size_t d = 0; d < nd; d++) chunks[d] = strtoull(f[p++], NULL, 10);
    int sharded = atoi(f[p++]);
    if (sharded) {
        for (size_t d = 0; d < nd; d++) shards[d] = strtoull(f[p++], NULL, 10);
    }
    const char *fill_hex = f[p++], *attrs_hex = f[p++], *npy_path = f[p++];
    g_arrays++;

    struct elem_kind k;
    if (!kind_of(dtype, &k)) {
        fail(id, "unknown dtype in digest");
        return;
    }
    zarrcore_store *s = NULL;
    zarrcore_array *a = NULL;
    if (zarrcore_store_open(store_path, ZARRCORE_STORE_READ_ONLY, &s) != ZARRCORE_OK) {
        fail(id, "store_open");
        return;
    }
    if (zarrcore_array_open(s, apath, ZARRCORE_MODE_READ, &a) != ZARRCORE_OK) {
        fail(id, "array_open");
        zarrcore_store_close(s);
        return;
    }

    /* Metadata. */
    int32_t fmt = 0, dcode = 0, is_sharded = -1;
    size_t ndim = 99, item = 0, len_ = 0;
    uint64_t got[MAXD], nbytes = 0;
    EXPECT(id, zarrcore_array_zarr_format(a, &fmt) == ZARRCORE_OK && fmt == zfmt, "zarr_format");
    EXPECT(id, zarrcore_array_ndim(a, &ndim) == ZARRCORE_OK && ndim == nd, "ndim");
    EXPECT(id, zarrcore_array_shape(a, got, nd) == ZARRCORE_OK &&
                   (nd == 0 || memcmp(got, shape, nd * 8) == 0), "shape");
    EXPECT(id, zarrcore_array_chunk_shape(a, got, nd) == ZARRCORE_OK &&
                   (nd == 0 || memcmp(got, chunks, nd * 8) == 0), "chunk shape");
    EXPECT(id, zarrcore_array_shard_shape(a, got, nd, &is_sharded) == ZARRCORE_OK &&
                   is_sharded == sharded && (!sharded || memcmp(got, shards, nd * 8) == 0),
           "shard shape");
    char dstr[32];
    int dt_ok = zarrcore_array_dtype_str(a, dstr, sizeof dstr, &len_) == ZARRCORE_OK;
    /* v2 keeps its declared byte order; v3 presents little-endian. */
    EXPECT(id, dt_ok && (zfmt == 2 ? strcmp(dstr, dtype) == 0 : strcmp(dstr + 1, dtype + 1) == 0),
           "dtype string");
    EXPECT(id, zarrcore_array_dtype(a, &dcode) == ZARRCORE_OK && dcode == dtype_code(k.kind, k.size),
           "dtype code");
    EXPECT(id, zarrcore_array_item_size(a, &item) == ZARRCORE_OK && item == k.size, "item size");
    uint64_t n = prod(shape, nd);
    EXPECT(id, zarrcore_array_num_bytes(a, &nbytes) == ZARRCORE_OK && nbytes == n * k.size,
           "num_bytes");

    unsigned char want_fill[MAXF * 4], fill[MAXF * 4];
    size_t fill_len = 0;
    if (hex_decode(fill_hex, want_fill, sizeof want_fill, &fill_len) && fill_len == k.size) {
        EXPECT(id, zarrcore_array_fill_value(a, fill, k.size) == ZARRCORE_OK &&
                       same_elem(fill, want_fill, &k), "fill value");
    } else {
        fail(id, "fill value in digest");
    }

    unsigned char want_attrs[8192];
    size_t attrs_len = 0;
    char attrs[8192];
    if (hex_decode(attrs_hex, want_attrs, sizeof want_attrs - 1, &attrs_len)) {
        want_attrs[attrs_len] = '\0';
        const char *w = attrs_len ? (const char *)want_attrs : "{}";
        EXPECT(id, zarrcore_array_attributes_get(a, attrs, sizeof attrs, &len_) == ZARRCORE_OK &&
                       strcmp(attrs, w) == 0, "attributes");
    } else {
        fail(id, "attributes in digest");
    }

    /* Values. */
    struct npy e;
    int npy_ok = npy_load(npy_path, &e);
    EXPECT(id, npy_ok && e.ndim == nd && (nd == 0 || memcmp(e.shape, shape, nd * 8) == 0) &&
                   e.data_len >= n * k.size && strcmp(e.descr + 1, dtype + 1) == 0,
           "expected .npy file");
    size_t total = (size_t)(n * k.size);
    unsigned char *all = malloc(total + 1), *tmp = malloc(total + 1), *w = malloc(total + 1);
    if (npy_ok && all && tmp && w && e.data_len >= total) {
        uint64_t zero[MAXD] = {0};
        EXPECT(id, zarrcore_array_read_region(a, zero, shape, nd, ZARRCORE_ORDER_C, all, total) ==
                       ZARRCORE_OK && count_diff(all, e.data, (size_t)n, &k) == 0,
               "values (C order)");
        EXPECT(id, zarrcore_array_read_region(a, zero, shape, nd, ZARRCORE_ORDER_F, tmp, total) ==
                       ZARRCORE_OK, "read (F order)");
        f_to_c(tmp, shape, nd, k.size, w);
        EXPECT(id, count_diff(w, e.data, (size_t)n, &k) == 0, "values (F order)");

        if (nd > 0 && n > 0) {
            /* Regions crossing chunk edges, the tail, the last element. */
            uint64_t st[3][MAXD], ct[3][MAXD];
            for (size_t d = 0; d < nd; d++) {
                uint64_t c = chunks[d];
                st[0][d] = c / 2 < shape[d] - 1 ? c / 2 : shape[d] - 1;
                ct[0][d] = c + 1 < shape[d] - st[0][d] ? c + 1 : shape[d] - st[0][d];
                st[1][d] = shape[d] / 3;
                ct[1][d] = shape[d] - st[1][d];
                st[2][d] = shape[d] - 1;
                ct[2][d] = 1;
            }
            for (int r = 0; r < 3; r++) {
                size_t rn = (size_t)prod(ct[r], nd);
                slice_c(e.data, shape, nd, st[r], ct[r], k.size, w);
                EXPECT(id, zarrcore_array_read_region(a, st[r], ct[r], nd, ZARRCORE_ORDER_C, tmp,
                                                      rn * k.size) == ZARRCORE_OK &&
                               count_diff(tmp, w, rn, &k) == 0, "sub-region values");
            }
            /* Linear byte ranges at odd offsets equal the C-order bytes. */
            uint64_t offs[2][2] = {{1, total > 2 ? total - 2 : 0}, {total / 3, total / 3 + 1}};
            for (int r = 0; r < 2; r++) {
                uint64_t off = offs[r][0], l = offs[r][1];
                if (l == 0 || off + l > total) {
                    continue;
                }
                EXPECT(id, zarrcore_array_read_bytes(a, off, tmp, (size_t)l) == ZARRCORE_OK &&
                               memcmp(tmp, all + off, (size_t)l) == 0, "byte range");
            }
        }
    } else {
        fail(id, "could not load the expected values");
    }
    free(all);
    free(tmp);
    free(w);
    free(e.file);
    EXPECT(id, zarrcore_array_close(a) == ZARRCORE_OK, "array_close");
    EXPECT(id, zarrcore_store_close(s) == ZARRCORE_OK, "store_close");
}

/* ---- one group ---------------------------------------------------------- */

static void check_group(char **f, int nf) {
    const char *id = f[1], *store_path = f[2], *gpath = f[3];
    int zfmt = atoi(f[4]);
    const char *attrs_hex = f[5];
    int nmem = atoi(f[6]);
    if (nf != 7 + nmem) {
        fail(id, "malformed digest line");
        return;
    }
    g_groups++;
    zarrcore_store *s = NULL;
    zarrcore_group *g = NULL;
    if (zarrcore_store_open(store_path, ZARRCORE_STORE_READ_ONLY, &s) != ZARRCORE_OK) {
        fail(id, "store_open");
        return;
    }
    if (zarrcore_group_open(s, gpath, &g) != ZARRCORE_OK) {
        fail(id, "group_open");
        zarrcore_store_close(s);
        return;
    }
    int32_t fmt = 0;
    size_t len_ = 0;
    EXPECT(id, zarrcore_group_zarr_format(g, &fmt) == ZARRCORE_OK && fmt == zfmt, "zarr_format");
    unsigned char want[8192];
    size_t wlen = 0;
    char attrs[8192];
    if (hex_decode(attrs_hex, want, sizeof want - 1, &wlen)) {
        want[wlen] = '\0';
        EXPECT(id, zarrcore_group_attributes_get(g, attrs, sizeof attrs, &len_) == ZARRCORE_OK &&
                       strcmp(attrs, wlen ? (const char *)want : "{}") == 0, "attributes");
    } else {
        fail(id, "attributes in digest");
    }
    /* Members: every expected name appears exactly once, and nothing else. */
    size_t mlen = 0;
    zarrcore_group_members(g, NULL, 0, &mlen);
    char *members = malloc(mlen + 1);
    if (members != NULL && zarrcore_group_members(g, members, mlen + 1, &mlen) == ZARRCORE_OK) {
        int found = 0, total = 0;
        for (const char *q = members; (q = strstr(q, "\"name\":\"")) != NULL; q++) {
            total++;
        }
        for (int m = 0; m < nmem; m++) {
            char needle[600];
            snprintf(needle, sizeof needle, "\"name\":\"%s\"", f[7 + m]);
            found += strstr(members, needle) != NULL;
        }
        EXPECT(id, found == nmem && total == nmem, "members");
    } else {
        fail(id, "members");
    }
    free(members);
    EXPECT(id, zarrcore_group_close(g) == ZARRCORE_OK, "group_close");
    EXPECT(id, zarrcore_store_close(s) == ZARRCORE_OK, "store_close");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIGEST.txt\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (in == NULL) {
        perror(argv[1]);
        return 2;
    }
    static char line[65536];
    while (fgets(line, sizeof line, in) != NULL) {
        char *fields[256];
        int nf = 0;
        for (char *t = strtok(line, " \n"); t != NULL && nf < 256; t = strtok(NULL, " \n")) {
            fields[nf++] = t;
        }
        if (nf == 0) {
            continue;
        }
        if (strcmp(fields[0], "A") == 0) {
            check_array(fields, nf);
        } else if (strcmp(fields[0], "G") == 0 && nf >= 7) {
            check_group(fields, nf);
        } else {
            fail(fields[0], "unknown digest line");
        }
    }
    fclose(in);
    printf("checked %d arrays and %d groups\n", g_arrays, g_groups);
    CHECK(g_arrays > 0 && g_groups > 0);
    return finish("test_fixtures");
}
