// zarrcore.hpp - a small header-only C++17 RAII wrapper over the C API of
// libzarrcore (zarrcore.h).
//
//  * zarrcore::store, zarrcore::group, zarrcore::array own their handles
//    (move-only; the destructor closes; call close() to see flush errors,
//    which a destructor can only swallow).
//  * Every failure throws zarrcore::error, carrying the zarrcore_status and
//    the library's message for the failing call.
//  * Buffers are passed as zarrcore::span<T> (a std::span-style view: a
//    pointer and a count, built from std::vector, std::array, C arrays, or a
//    pointer and a size).
//
// Threads: the same rules as the C API (see zarrcore.h). Objects may be
// shared between threads by reference; moving or destroying one while
// another thread uses it is a race.
//
// Build: c++ -std=c++17 app.cpp $(pkg-config --cflags --libs zarrcore)

#ifndef ZARRCORE_HPP
#define ZARRCORE_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "zarrcore.h"

namespace zarrcore {

/// A failed call: the status code and the library's message.
class error : public std::runtime_error {
public:
    error(zarrcore_status status, const std::string& message)
        : std::runtime_error(message), status_(status) {}

    /// The ZARRCORE_E_* code.
    zarrcore_status status() const noexcept { return status_; }

    /// The code's name, e.g. "ZARRCORE_E_BUSY".
    const char* status_name() const noexcept { return zarrcore_status_str(status_); }

private:
    zarrcore_status status_;
};

/// A contiguous view of `size()` elements of T (what std::span<T> is in C++20).
template <class T>
class span {
public:
    using element_type = T;

    constexpr span() noexcept : data_(nullptr), size_(0) {}
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <std::size_t N>
    constexpr span(T (&a)[N]) noexcept : data_(a), size_(N) {}
    template <class U, std::size_t N,
              class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
    constexpr span(std::array<U, N>& a) noexcept : data_(a.data()), size_(N) {}
    template <class U, std::size_t N,
              class = std::enable_if_t<std::is_convertible_v<const U (*)[], T (*)[]>>>
    constexpr span(const std::array<U, N>& a) noexcept : data_(a.data()), size_(N) {}
    template <class U, class A,
              class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
    span(std::vector<U, A>& v) noexcept : data_(v.data()), size_(v.size()) {}
    template <class U, class A,
              class = std::enable_if_t<std::is_convertible_v<const U (*)[], T (*)[]>>>
    span(const std::vector<U, A>& v) noexcept : data_(v.data()), size_(v.size()) {}
    template <class U, class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
    constexpr span(const span<U>& s) noexcept : data_(s.data()), size_(s.size()) {}
    /// A braced list such as {0, 0} for read-only spans, as in C++26's
    /// std::span: valid until the end of the full expression, i.e. for a
    /// function argument (GCC's -Winit-list-lifetime cannot tell, hence the
    /// local pragma).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
    template <class U = T, class = std::enable_if_t<std::is_const_v<U>>>
    constexpr span(std::initializer_list<std::remove_const_t<T>> il) noexcept
        : data_(il.begin()), size_(il.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size_; }

private:
    T* data_;
    std::size_t size_;
};

/// Element order of a region buffer.
enum class order : std::int32_t { c = ZARRCORE_ORDER_C, f = ZARRCORE_ORDER_F };
/// Array handle mode.
enum class mode : std::int32_t { read = ZARRCORE_MODE_READ, write = ZARRCORE_MODE_WRITE };
/// How to open a store.
enum class store_mode : std::int32_t {
    read_only = ZARRCORE_STORE_READ_ONLY,
    read_write = ZARRCORE_STORE_READ_WRITE,
    create = ZARRCORE_STORE_CREATE,
};
/// Zarr format version.
enum class format : std::int32_t { v2 = ZARRCORE_FORMAT_V2, v3 = ZARRCORE_FORMAT_V3 };

namespace detail {

/// The calling thread's message for the last failure.
inline std::string last_message() {
    std::size_t len = 0;
    zarrcore_error_message(nullptr, 0, &len);
    std::string msg(len + 1, '\0');
    zarrcore_error_message(&msg[0], msg.size(), &len);
    msg.resize(len < msg.size() ? len : msg.size() - 1);
    return msg;
}

/// Throws zarrcore::error unless `s` is ZARRCORE_OK.
inline void check(zarrcore_status s) {
    if (s != ZARRCORE_OK) {
        throw error(s, last_message());
    }
}

/// Calls `f(buf, buf_len, &out_len)` with a buffer that fits.
template <class F>
std::string get_string(F f) {
    std::size_t len = 0;
    zarrcore_status s = f(nullptr, 0, &len);
    if (s != ZARRCORE_OK && s != ZARRCORE_E_BUFFER_LENGTH) {
        check(s);
    }
    for (;;) {
        std::string out(len + 1, '\0');
        s = f(&out[0], out.size(), &len);
        if (s == ZARRCORE_E_BUFFER_LENGTH && len + 1 > out.size()) {
            continue;  // the text grew in between; try again
        }
        check(s);
        out.resize(len);
        return out;
    }
}

inline const char* c_str_or_null(const std::optional<std::string>& s) {
    return s ? s->c_str() : nullptr;
}

}  // namespace detail

/// The loaded library's version string ("0.1.0").
inline std::string version() { return zarrcore_version_string(); }

/// An open store (directory, zip file or memory://NAME).
class store {
public:
    /// Opens a store by path or URL.
    static store open(const std::string& location, store_mode m = store_mode::read_only) {
        zarrcore_store* h = nullptr;
        detail::check(zarrcore_store_open(location.c_str(), static_cast<std::int32_t>(m), &h));
        return store(h);
    }

    store(store&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    store& operator=(store&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    store(const store&) = delete;
    store& operator=(const store&) = delete;
    ~store() { reset(); }

    /// Makes completed writes durable and visible.
    void flush() const { detail::check(zarrcore_store_flush(h_)); }

    /// Flushes and releases the handle, reporting a flush failure.
    void close() { detail::check(zarrcore_store_close(std::exchange(h_, nullptr))); }

    /// The C handle (owned by this object).
    const zarrcore_store* get() const noexcept { return h_; }

private:
    explicit store(zarrcore_store* h) noexcept : h_(h) {}
    void reset() noexcept { zarrcore_store_close(std::exchange(h_, nullptr)); }
    zarrcore_store* h_;
};

/// An open group.
class group {
public:
    /// Opens the group at `path` ("" is the root).
    static group open(const store& s, const std::string& path) {
        zarrcore_group* h = nullptr;
        detail::check(zarrcore_group_open(s.get(), path.c_str(), &h));
        return group(h);
    }

    /// Creates (or opens) the group at `path` and missing parents.
    static group create(const store& s, const std::string& path, format f = format::v3,
                        const std::optional<std::string>& attributes_json = std::nullopt) {
        zarrcore_group* h = nullptr;
        detail::check(zarrcore_group_create(s.get(), path.c_str(), static_cast<std::int32_t>(f),
                                            detail::c_str_or_null(attributes_json), &h));
        return group(h);
    }

    group(group&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    group& operator=(group&& o) noexcept {
        if (this != &o) {
            zarrcore_group_close(h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    group(const group&) = delete;
    group& operator=(const group&) = delete;
    ~group() { zarrcore_group_close(h_); }

    /// Zarr format of the group.
    format zarr_format() const {
        std::int32_t f = 0;
        detail::check(zarrcore_group_zarr_format(h_, &f));
        return static_cast<format>(f);
    }

    /// Members as JSON: [{"name": ..., "kind": "array"|"group"}, ...].
    std::string members_json() const {
        return detail::get_string([this](char* b, std::size_t n, std::size_t* len) {
            return zarrcore_group_members(h_, b, n, len);
        });
    }

    /// Attributes as a JSON object text.
    std::string attributes_json() const {
        return detail::get_string([this](char* b, std::size_t n, std::size_t* len) {
            return zarrcore_group_attributes_get(h_, b, n, len);
        });
    }

    /// Replaces the attributes (a JSON object text).
    void set_attributes_json(const std::string& json) const {
        detail::check(zarrcore_group_attributes_set(h_, json.c_str()));
    }

    /// The C handle (owned by this object).
    const zarrcore_group* get() const noexcept { return h_; }

private:
    explicit group(zarrcore_group* h) noexcept : h_(h) {}
    zarrcore_group* h_;
};

/// The parameter form of array creation (see zarrcore_array_create).
struct array_options {
    format zarr_format = format::v3;
    std::string dtype = "float64";
    std::vector<std::uint64_t> shape;
    std::optional<std::vector<std::uint64_t>> chunks;
    std::optional<std::vector<std::uint64_t>> shards;
    std::optional<std::string> codec;
    std::optional<std::string> fill_value;
    bool overwrite = false;
};

/// An open array (read or write handle).
class array {
public:
    /// Opens the array at `path` in mode `m`.
    static array open(const store& s, const std::string& path, mode m = mode::read) {
        zarrcore_array* h = nullptr;
        detail::check(zarrcore_array_open(s.get(), path.c_str(), static_cast<std::int32_t>(m), &h));
        return array(h);
    }

    /// Creates an array from parameters; returns a write handle.
    static array create(const store& s, const std::string& path, const array_options& o) {
        const std::size_t nd = o.shape.size();
        if ((o.chunks && o.chunks->size() != nd) || (o.shards && o.shards->size() != nd)) {
            throw error(ZARRCORE_E_INVALID_ARGUMENT,
                        "zarrcore::array::create: chunks and shards need one value per dimension");
        }
        zarrcore_array* h = nullptr;
        detail::check(zarrcore_array_create(
            s.get(), path.c_str(), static_cast<std::int32_t>(o.zarr_format), o.dtype.c_str(), nd,
            o.shape.data(), o.chunks ? o.chunks->data() : nullptr,
            o.shards ? o.shards->data() : nullptr, detail::c_str_or_null(o.codec),
            detail::c_str_or_null(o.fill_value), o.overwrite ? 1 : 0, &h));
        return array(h);
    }

    /// Creates an array from a v2 or v3 metadata document; returns a write handle.
    static array create_json(const store& s, const std::string& path,
                             const std::string& metadata_json, bool overwrite = false) {
        zarrcore_array* h = nullptr;
        detail::check(zarrcore_array_create_json(s.get(), path.c_str(), metadata_json.c_str(),
                                                 overwrite ? 1 : 0, &h));
        return array(h);
    }

    array(array&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    array& operator=(array&& o) noexcept {
        if (this != &o) {
            zarrcore_array_close(h_);
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    array(const array&) = delete;
    array& operator=(const array&) = delete;
    /// Closes the handle; a flush failure is lost here (use close()).
    ~array() { zarrcore_array_close(h_); }

    /// Flushes and releases the handle, reporting a flush failure.
    void close() { detail::check(zarrcore_array_close(std::exchange(h_, nullptr))); }

    /// Stores buffered writes.
    void flush() const { detail::check(zarrcore_array_flush(h_)); }

    std::size_t ndim() const {
        std::size_t n = 0;
        detail::check(zarrcore_array_ndim(h_, &n));
        return n;
    }

    std::vector<std::uint64_t> shape() const {
        std::vector<std::uint64_t> v(ndim());
        detail::check(zarrcore_array_shape(h_, v.data(), v.size()));
        return v;
    }

    /// The read/write chunk shape (inner chunks when sharded).
    std::vector<std::uint64_t> chunk_shape() const {
        std::vector<std::uint64_t> v(ndim());
        detail::check(zarrcore_array_chunk_shape(h_, v.data(), v.size()));
        return v;
    }

    /// The shard shape, or nothing when the array is not sharded.
    std::optional<std::vector<std::uint64_t>> shard_shape() const {
        std::vector<std::uint64_t> v(ndim());
        std::int32_t sharded = 0;
        detail::check(zarrcore_array_shard_shape(h_, v.data(), v.size(), &sharded));
        if (!sharded) {
            return std::nullopt;
        }
        return v;
    }

    /// ZARRCORE_DTYPE_* value.
    std::int32_t dtype() const {
        std::int32_t d = 0;
        detail::check(zarrcore_array_dtype(h_, &d));
        return d;
    }

    /// NumPy type string ("<f8").
    std::string dtype_str() const {
        return detail::get_string([this](char* b, std::size_t n, std::size_t* len) {
            return zarrcore_array_dtype_str(h_, b, n, len);
        });
    }

    std::size_t item_size() const {
        std::size_t n = 0;
        detail::check(zarrcore_array_item_size(h_, &n));
        return n;
    }

    std::uint64_t num_bytes() const {
        std::uint64_t n = 0;
        detail::check(zarrcore_array_num_bytes(h_, &n));
        return n;
    }

    /// The fill value as one element of T (sizeof(T) must be the item size).
    template <class T>
    T fill_value() const {
        static_assert(std::is_trivially_copyable_v<T>, "T must be trivially copyable");
        T v{};
        detail::check(zarrcore_array_fill_value(h_, &v, sizeof(T)));
        return v;
    }

    std::string metadata_json() const {
        return detail::get_string([this](char* b, std::size_t n, std::size_t* len) {
            return zarrcore_array_metadata_json(h_, b, n, len);
        });
    }

    std::string attributes_json() const {
        return detail::get_string([this](char* b, std::size_t n, std::size_t* len) {
            return zarrcore_array_attributes_get(h_, b, n, len);
        });
    }

    void set_attributes_json(const std::string& json) const {
        detail::check(zarrcore_array_attributes_set(h_, json.c_str()));
    }

    format zarr_format() const {
        std::int32_t f = 0;
        detail::check(zarrcore_array_zarr_format(h_, &f));
        return static_cast<format>(f);
    }

    mode handle_mode() const {
        std::int32_t m = 0;
        detail::check(zarrcore_array_mode(h_, &m));
        return static_cast<mode>(m);
    }

    /// Reads a region into `out` (native byte order, `o` order).
    template <class T>
    void read_region(span<const std::uint64_t> start, span<const std::uint64_t> count,
                     span<T> out, order o = order::c) const {
        static_assert(!std::is_const_v<T>, "the output buffer must be writable");
        check_rank(start, count);
        detail::check(zarrcore_array_read_region(h_, start.data(), count.data(), start.size(),
                                                 static_cast<std::int32_t>(o), out.data(),
                                                 out.size_bytes()));
    }

    /// Reads a region into a new vector of T.
    template <class T>
    std::vector<T> read_region(span<const std::uint64_t> start, span<const std::uint64_t> count,
                               order o = order::c) const {
        std::size_t n = 1;
        for (std::uint64_t c : count) {
            n *= static_cast<std::size_t>(c);
        }
        std::vector<T> v(n);
        read_region(start, count, span<T>(v), o);
        return v;
    }

    /// Writes `data` (native byte order, `o` order) into a region.
    template <class T>
    void write_region(span<const std::uint64_t> start, span<const std::uint64_t> count,
                      span<const T> data, order o = order::c) const {
        check_rank(start, count);
        detail::check(zarrcore_array_write_region(h_, start.data(), count.data(), start.size(),
                                                  static_cast<std::int32_t>(o), data.data(),
                                                  data.size_bytes()));
    }

    /// Writes a vector (native byte order, `o` order) into a region.
    template <class T, class A>
    void write_region(span<const std::uint64_t> start, span<const std::uint64_t> count,
                      const std::vector<T, A>& data, order o = order::c) const {
        write_region(start, count, span<const T>(data), o);
    }

    /// Reads a region into an existing vector (its size must fit the region).
    template <class T, class A>
    void read_region(span<const std::uint64_t> start, span<const std::uint64_t> count,
                     std::vector<T, A>& out, order o = order::c) const {
        read_region(start, count, span<T>(out), o);
    }

    /// Reads bytes of the C-order, native-byte-order view of the array.
    void read_bytes(std::uint64_t offset, span<unsigned char> out) const {
        detail::check(zarrcore_array_read_bytes(h_, offset, out.data(), out.size()));
    }

    /// Writes bytes of the C-order, native-byte-order view of the array.
    void write_bytes(std::uint64_t offset, span<const unsigned char> data) const {
        detail::check(zarrcore_array_write_bytes(h_, offset, data.data(), data.size()));
    }

    /// The C handle (owned by this object).
    const zarrcore_array* get() const noexcept { return h_; }

private:
    explicit array(zarrcore_array* h) noexcept : h_(h) {}

    static void check_rank(span<const std::uint64_t> start, span<const std::uint64_t> count) {
        if (start.size() != count.size()) {
            throw error(ZARRCORE_E_INVALID_ARGUMENT,
                        "zarrcore::array: start and count have different lengths");
        }
    }

    zarrcore_array* h_;
};

/// What zarrcore::copy did.
struct copy_result {
    /// True when every destination chunk is written; false when the
    /// progress function cancelled (copy again with "resume": true).
    bool complete;
    /// The report, a JSON object text (see zarrcore_copy).
    std::string report_json;
};

/// Progress of zarrcore::copy: (done_bytes, total_bytes); return false to
/// cancel. Called on the thread that called copy(), never concurrently.
using copy_progress = std::function<bool(std::uint64_t, std::uint64_t)>;

namespace detail {

struct copy_state {
    const copy_progress* fn;
    std::exception_ptr error;
};

// An exception must not cross the C library: it is kept, cancels the copy
// and is rethrown by copy().
extern "C" inline std::int32_t copy_trampoline(void* user_data, std::uint64_t done,
                                               std::uint64_t total) {
    auto* st = static_cast<copy_state*>(user_data);
    try {
        return (*st->fn)(done, total) ? 0 : 1;
    } catch (...) {
        st->error = std::current_exception();
        return 1;
    }
}

}  // namespace detail

/// Out-of-core copy of `src_path` in `src` to `dst_path` in `dst`
/// (zarrcore_copy): transpose, rechunk, re-encode, convert under a memory
/// budget. `options_json` is the JSON object text of zarrcore_copy, e.g.
/// R"({"transpose": [1, 0], "memory": "256MiB"})". Throws zarrcore::error
/// on failure, or what `progress` threw.
inline copy_result copy(const store& src, const std::string& src_path, const store& dst,
                        const std::string& dst_path, const std::string& options_json = "{}",
                        const copy_progress& progress = nullptr) {
    char report[ZARRCORE_COPY_REPORT_MAX_LEN];
    std::size_t len = 0;
    detail::copy_state st{&progress, nullptr};
    zarrcore_status s = zarrcore_copy(src.get(), src_path.c_str(), dst.get(), dst_path.c_str(),
                                      options_json.c_str(),
                                      progress ? &detail::copy_trampoline : nullptr, &st, report,
                                      sizeof report, &len);
    if (st.error) {
        std::rethrow_exception(st.error);
    }
    if (s != ZARRCORE_E_CANCELLED) {
        detail::check(s);
    }
    return copy_result{s == ZARRCORE_OK, std::string(report, len)};
}

}  // namespace zarrcore

#endif  // ZARRCORE_HPP
