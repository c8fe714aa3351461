// Tests of the C++17 wrapper zarrcore.hpp against the installed library:
// RAII ownership and moves, exceptions carrying status and message, span
// buffers (vectors, std::array, C arrays, pointer+size, braced lists),
// every accessor, C and F order, byte ranges, groups.
// Usage: test_wrapper WORKDIR
#include <zarrcore.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

static int g_pass = 0, g_fail = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            g_pass++;                                                                  \
        } else {                                                                       \
            g_fail++;                                                                  \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                              \
    } while (0)

// The statement throws zarrcore::error with `code` and a message containing `needle`.
#define CHECK_THROWS(stmt, code, needle)                                                     \
    do {                                                                                     \
        bool caught_ = false;                                                                \
        try {                                                                                \
            stmt;                                                                            \
        } catch (const zarrcore::error& e_) {                                                \
            caught_ = e_.status() == (code) && std::strstr(e_.what(), (needle)) != nullptr;  \
            if (!caught_) {                                                                  \
                std::fprintf(stderr, "%s:%d: got %s: %s\n", __FILE__, __LINE__,             \
                             e_.status_name(), e_.what());                                   \
            }                                                                                \
        }                                                                                    \
        CHECK(caught_);                                                                      \
    } while (0)

using zarrcore::array;
using zarrcore::group;
using zarrcore::order;
using zarrcore::store;

static void test_basics(const std::string& dir) {
    CHECK(zarrcore::version() == ZARRCORE_VERSION_STRING);
    store s = store::open(dir + "/cpp.zarr", zarrcore::store_mode::create);
    group root = group::create(s, "", zarrcore::format::v3, std::string("{\"who\":\"cpp\"}"));
    CHECK(root.zarr_format() == zarrcore::format::v3);
    CHECK(root.attributes_json() == "{\"who\":\"cpp\"}");
    root.set_attributes_json("{\"who\":\"c++\"}");
    CHECK(group::open(s, "/").attributes_json() == "{\"who\":\"c++\"}");

    zarrcore::array_options o;
    o.dtype = "float32";
    o.shape = {20, 30};
    o.chunks = std::vector<std::uint64_t>{8, 8};
    o.codec = "gzip:4";
    o.fill_value = "nan";
    array a = array::create(s, "g/data", o);
    CHECK(a.ndim() == 2);
    CHECK((a.shape() == std::vector<std::uint64_t>{20, 30}));
    CHECK((a.chunk_shape() == std::vector<std::uint64_t>{8, 8}));
    CHECK(!a.shard_shape().has_value());
    CHECK(a.dtype() == ZARRCORE_DTYPE_FLOAT32);
    CHECK(a.dtype_str() == "<f4");
    CHECK(a.item_size() == 4);
    CHECK(a.num_bytes() == 20 * 30 * 4);
    CHECK(std::isnan(a.fill_value<float>()));
    CHECK(a.metadata_json().find("\"gzip\"") != std::string::npos);
    CHECK(a.handle_mode() == zarrcore::mode::write);
    CHECK(a.zarr_format() == zarrcore::format::v3);

    std::vector<float> block(5 * 7);
    for (std::size_t k = 0; k < block.size(); k++) {
        block[k] = static_cast<float>(k) * 0.5f;
    }
    a.write_region({2, 3}, {5, 7}, block);
    std::vector<float> back = a.read_region<float>({2, 3}, {5, 7});
    CHECK(back == block);
    // F order through a std::array and a C array.
    std::array<float, 6> f{};
    a.read_region({2, 3}, {2, 3}, zarrcore::span<float>(f), order::f);
    CHECK(f[0] == block[0] && f[1] == block[7] && f[2] == block[1] && f[5] == block[9]);
    float carr[6] = {1, 2, 3, 4, 5, 6};
    a.write_region({0, 0}, {3, 2}, zarrcore::span<const float>(carr), order::f);
    float cback[6];
    a.read_region({0, 0}, {3, 2}, zarrcore::span<float>(cback));
    CHECK(cback[0] == 1 && cback[1] == 4 && cback[2] == 2 && cback[5] == 6);
    // Pointer + size, bytes.
    std::vector<unsigned char> bytes(13);
    a.read_bytes(2 * 30 * 4 + 3 * 4 + 1, zarrcore::span<unsigned char>(bytes.data(), bytes.size()));
    CHECK(std::memcmp(bytes.data(), reinterpret_cast<const unsigned char*>(block.data()) + 1, 11) ==
          0);
    const unsigned char patch[4] = {0, 0, 0x80, 0x3f};  // 1.0f little-endian
    a.write_bytes(0, zarrcore::span<const unsigned char>(patch));
    a.close();

    array r = array::open(s, "g/data");
    CHECK(r.handle_mode() == zarrcore::mode::read);
    std::vector<float> all = r.read_region<float>({0, 0}, {20, 30});
    CHECK(all[0] == 1.0f);
    CHECK(all[2 * 30 + 3] == block[0] && all[6 * 30 + 9] == block[4 * 7 + 6]);
    CHECK(std::isnan(all[19 * 30 + 29]));

    // Moves transfer ownership; the moved-from object is empty.
    array moved = std::move(r);
    CHECK(moved.get() != nullptr && r.get() == nullptr);
    CHECK(moved.ndim() == 2);

    // Members.
    std::string m = root.members_json();
    CHECK(m == "[{\"name\":\"g\",\"kind\":\"group\"}]");
    CHECK(group::open(s, "g").members_json() == "[{\"name\":\"data\",\"kind\":\"array\"}]");
}

static void test_errors(const std::string& dir) {
    store s = store::open(dir + "/cpp.zarr", zarrcore::store_mode::read_write);
    CHECK_THROWS(array::open(s, "missing/array"), ZARRCORE_E_NOT_FOUND, "missing/array");
    CHECK_THROWS(store::open(dir + "/nope.zarr"), ZARRCORE_E_STORE, "nope.zarr");
    {
        array r = array::open(s, "g/data", zarrcore::mode::read);
        CHECK_THROWS(array::open(s, "g/data", zarrcore::mode::write), ZARRCORE_E_BUSY,
                     "reads and writes never mix");
        std::vector<float> wrong(3);
        CHECK_THROWS(r.read_region({0, 0}, {2, 2}, wrong), ZARRCORE_E_BUFFER_LENGTH,
                     "buffer has 12 bytes, the region needs 16");
        CHECK_THROWS(r.write_region({0, 0}, {1, 3}, wrong), ZARRCORE_E_MODE, "open for reading");
        CHECK_THROWS(r.read_region<float>({0, 0}, {21, 1}), ZARRCORE_E_OUT_OF_BOUNDS,
                     "out of bounds");
        CHECK_THROWS(r.fill_value<double>(), ZARRCORE_E_BUFFER_LENGTH, "item size is 4");
        CHECK_THROWS(r.read_region<float>({0}, {1, 1}), ZARRCORE_E_INVALID_ARGUMENT,
                     "different lengths");
    }
    // The read handle is closed by its destructor: writing works now.
    array w = array::open(s, "g/data", zarrcore::mode::write);
    w.write_region({0, 0}, {1, 1}, std::vector<float>{9.0f});
    w.close();
    CHECK(w.get() == nullptr);
    w.close();  // closing an empty wrapper is a no-op

    zarrcore::array_options o;
    o.dtype = "int8";
    o.shape = {4};
    o.chunks = std::vector<std::uint64_t>{2, 2};
    CHECK_THROWS(array::create(s, "bad", o), ZARRCORE_E_INVALID_ARGUMENT, "one value per dimension");
    o.chunks.reset();
    o.codec = "nonsense";
    CHECK_THROWS(array::create(s, "bad", o), ZARRCORE_E_INVALID_ARGUMENT, "`codec`");
    CHECK_THROWS(array::create_json(s, "bad", "{\"zarr_format\": 5}"), ZARRCORE_E_METADATA,
                 "zarr_format is 5");
    CHECK_THROWS(group::open(s, "").set_attributes_json("[]"), ZARRCORE_E_INVALID_ARGUMENT,
                 "must be a JSON object");

    // A v2 array created from JSON, and a sharded one from options.
    array j = array::create_json(s, "v2arr",
                                 "{\"zarr_format\":2,\"shape\":[3,3],\"chunks\":[2,2],"
                                 "\"dtype\":\">u2\",\"compressor\":null,\"fill_value\":5,"
                                 "\"order\":\"F\",\"filters\":null}");
    CHECK(j.dtype_str() == ">u2");
    CHECK(j.fill_value<std::uint16_t>() == 5);
    j.write_region({1, 1}, {2, 2}, std::vector<std::uint16_t>{1, 2, 3, 4});
    j.close();
    array jr = array::open(s, "v2arr");
    CHECK((jr.read_region<std::uint16_t>({0, 0}, {3, 3}) ==
           std::vector<std::uint16_t>{5, 5, 5, 5, 1, 2, 5, 3, 4}));

    zarrcore::array_options so;
    so.dtype = "uint16";
    so.shape = {12, 12};
    so.chunks = std::vector<std::uint64_t>{3, 3};
    so.shards = std::vector<std::uint64_t>{6, 6};
    array sh = array::create(s, "sharded", so);
    CHECK((sh.shard_shape().value() == std::vector<std::uint64_t>{6, 6}));
    CHECK((sh.chunk_shape() == std::vector<std::uint64_t>{3, 3}));
}

// zarrcore::copy: a transpose with a progress function; an exception thrown
// by the progress function cancels the copy and reaches the caller; a
// cancel (false) and a resume.
static void test_copy(const std::string& dir) {
    store s = store::open(dir + "/cpp.zarr", zarrcore::store_mode::read_write);
    zarrcore::array_options o;
    o.dtype = "int32";
    o.shape = {40, 24};
    o.chunks = std::vector<std::uint64_t>{4, 4};
    std::vector<std::int32_t> v(40 * 24);
    for (std::size_t i = 0; i < v.size(); i++) {
        v[i] = static_cast<std::int32_t>(i * 3);
    }
    array a = array::create(s, "c/src", o);
    a.write_region({0, 0}, {40, 24}, v);
    a.close();

    std::uint64_t last = 0, total = 0;
    zarrcore::copy_result r =
        zarrcore::copy(s, "c/src", s, "c/t", R"({"transpose": [1, 0], "chunks": [8, 8]})",
                       [&](std::uint64_t d, std::uint64_t t) {
                           last = d;
                           total = t;
                           return true;
                       });
    CHECK(r.complete);
    CHECK(r.report_json.find("\"outcome\":\"complete\"") != std::string::npos);
    CHECK(last == v.size() * 4 && total == v.size() * 4);
    std::vector<std::int32_t> t = array::open(s, "c/t").read_region<std::int32_t>({0, 0}, {24, 40});
    int bad = 0;
    for (std::size_t i = 0; i < 40; i++) {
        for (std::size_t j = 0; j < 24; j++) {
            bad += t[j * 40 + i] != v[i * 24 + j];
        }
    }
    CHECK(bad == 0);

    // An exception from the progress function propagates (the copy stops).
    bool caught = false;
    try {
        zarrcore::copy(s, "c/src", s, "c/x", R"({"threads": 1})",
                       [](std::uint64_t, std::uint64_t) -> bool { throw std::runtime_error("stop!"); });
    } catch (const std::runtime_error& e) {
        caught = std::string(e.what()) == "stop!";
    }
    CHECK(caught);
    // Cancelled at the start: nothing done, then resumed.
    zarrcore::copy_result c = zarrcore::copy(s, "c/src", s, "c/y", "{}",
                                             [](std::uint64_t, std::uint64_t) { return false; });
    if (!c.complete) {
        CHECK(c.report_json.find("\"outcome\":\"cancelled\"") != std::string::npos);
        c = zarrcore::copy(s, "c/src", s, "c/y", R"({"resume": true})");
    }
    CHECK(c.complete);
    CHECK((array::open(s, "c/y").read_region<std::int32_t>({0, 0}, {40, 24}) == v));
    CHECK_THROWS(zarrcore::copy(s, "c/src", s, "c/y", R"({"transpos": [1, 0]})"),
                 ZARRCORE_E_INVALID_ARGUMENT, "\"transpos\"");
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    try {
        test_basics(argv[1]);
        test_errors(argv[1]);
        test_copy(argv[1]);
    } catch (const zarrcore::error& e) {
        g_fail++;
        std::fprintf(stderr, "unexpected zarrcore::error %s: %s\n", e.status_name(), e.what());
    }
    std::printf("test_wrapper: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 && g_pass > 0 ? 0 : 1;
}
