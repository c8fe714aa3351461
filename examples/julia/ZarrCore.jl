#
# ZarrCore.jl - Julia bindings for libzarrcore (the C API in zarrcore.h).
#
# NOT RUN: Julia cannot be installed on the machines this project is built
# and tested on, so this module has never been executed. What *is* tested
# (tests/suites/ffi.sh): every `ccall` below names a function of
# include/zarrcore.h with the right number of arguments and matching
# argument and return types (tests/ffi/check_julia_ccalls.py), and the same
# calls, made through Python's ctypes with explicit argument types (the
# same mechanism as `ccall`), pass tests/python/test_ffi_ctypes.py.
#
# Layout: the module has two layers.
#   * `ZarrCore.LibZarrCore`: one thin `ccall` wrapper per C function, same
#     name and arguments as in zarrcore.h, returning what C returns.
#   * `ZarrCore`: `Store`, `Group`, `ZArray` with finalizers, and errors
#     thrown as `ZarrCoreError(status, message)`.
#
# Column-major note: Julia arrays are column-major, C's row-major. An array
# of C shape (d1, d2, ..., dn) has, seen from Julia without copying, the
# dims (dn, ..., d2, d1), reversed. `read_region`/`write_region` here keep
# the *C* index order (A[i, j] is element (i-1, j-1) of the Zarr array) by
# asking the library for Fortran order (ZARRCORE_ORDER_F), which transposes
# while copying; `read_region_reversed`/`write_region_reversed` take and
# give arrays with reversed dims in C order, with no transposition.
#
# Usage (untested, see above):
#   using .ZarrCore
#   st = ZarrCore.open_store("/data/x.zarr", ZarrCore.STORE_CREATE)
#   a = ZarrCore.create_array(st, "t", Float64, (100, 200); chunks=(32, 64), codec="zstd:3")
#   ZarrCore.write_region(a, (1, 1), rand(100, 200))
#   ZarrCore.close(a)
#   a = ZarrCore.open_array(st, "t")
#   x = ZarrCore.read_region(a, (11, 21), (5, 5))   # 1-based start, like Julia
#
module ZarrCore

# These extend Base's generic functions for the handle types below.
import Base: close, flush, ndims, eltype

"Path or name of the shared library (override with ENV[\"ZARRCORE_LIB\"])."
const libzarrcore = get(ENV, "ZARRCORE_LIB", "libzarrcore")

# ---- constants (frozen numbers, as in zarrcore.h) -------------------------

const ZARRCORE_OK = Int32(0)
const ZARRCORE_E_NULL_ARGUMENT = Int32(-1)
const ZARRCORE_E_INVALID_ARGUMENT = Int32(-2)
const ZARRCORE_E_BUFFER_LENGTH = Int32(-3)
const ZARRCORE_E_NOT_FOUND = Int32(-4)
const ZARRCORE_E_ALREADY_EXISTS = Int32(-5)
const ZARRCORE_E_BUSY = Int32(-6)
const ZARRCORE_E_MODE = Int32(-7)
const ZARRCORE_E_READ_ONLY = Int32(-8)
const ZARRCORE_E_OUT_OF_BOUNDS = Int32(-9)
const ZARRCORE_E_OVERFLOW = Int32(-10)
const ZARRCORE_E_METADATA = Int32(-11)
const ZARRCORE_E_UNSUPPORTED = Int32(-12)
const ZARRCORE_E_CODEC = Int32(-13)
const ZARRCORE_E_IO = Int32(-14)
const ZARRCORE_E_STORE = Int32(-15)
const ZARRCORE_E_PANIC = Int32(-16)
const ZARRCORE_E_INTERNAL = Int32(-17)
const ZARRCORE_E_CANCELLED = Int32(-18)

"Bytes that always hold the report of `zarrcore_copy` (ZARRCORE_COPY_REPORT_MAX_LEN)."
const COPY_REPORT_MAX_LEN = 512

const STORE_READ_ONLY = Int32(0)
const STORE_READ_WRITE = Int32(1)
const STORE_CREATE = Int32(2)
const MODE_READ = Int32(0)
const MODE_WRITE = Int32(1)
const ORDER_C = Int32(0)
const ORDER_F = Int32(1)
const FORMAT_V2 = Int32(2)
const FORMAT_V3 = Int32(3)

"ZARRCORE_DTYPE_* codes and the Julia element types they map to."
const DTYPES = Dict{Int32,DataType}(
    1 => Bool, 2 => Int8, 3 => Int16, 4 => Int32, 5 => Int64,
    6 => UInt8, 7 => UInt16, 8 => UInt32, 9 => UInt64,
    10 => Float16, 11 => Float32, 12 => Float64,
    13 => ComplexF32, 14 => ComplexF64,
)

# ---- the raw C functions: one ccall each ----------------------------------

module LibZarrCore

import ..ZarrCore: libzarrcore

zarrcore_version() =
    ccall((:zarrcore_version, libzarrcore), UInt32, ())

zarrcore_version_string() =
    ccall((:zarrcore_version_string, libzarrcore), Cstring, ())

zarrcore_status_str(status) =
    ccall((:zarrcore_status_str, libzarrcore), Cstring, (Int32,), status)

zarrcore_error_message(buf, buf_len, out_len) =
    ccall((:zarrcore_error_message, libzarrcore), Int32,
          (Ptr{UInt8}, Csize_t, Ptr{Csize_t}), buf, buf_len, out_len)

zarrcore_store_open(location, mode, out_store) =
    ccall((:zarrcore_store_open, libzarrcore), Int32,
          (Cstring, Int32, Ptr{Ptr{Cvoid}}), location, mode, out_store)

zarrcore_store_flush(store) =
    ccall((:zarrcore_store_flush, libzarrcore), Int32, (Ptr{Cvoid},), store)

zarrcore_store_close(store) =
    ccall((:zarrcore_store_close, libzarrcore), Int32, (Ptr{Cvoid},), store)

zarrcore_group_create(store, path, zarr_format, attributes_json, out_group) =
    ccall((:zarrcore_group_create, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Int32, Ptr{UInt8}, Ptr{Ptr{Cvoid}}),
          store, path, zarr_format, attributes_json, out_group)

zarrcore_group_open(store, path, out_group) =
    ccall((:zarrcore_group_open, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Ptr{Ptr{Cvoid}}), store, path, out_group)

zarrcore_group_close(group) =
    ccall((:zarrcore_group_close, libzarrcore), Int32, (Ptr{Cvoid},), group)

zarrcore_group_zarr_format(group, out_format) =
    ccall((:zarrcore_group_zarr_format, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Int32}), group, out_format)

zarrcore_group_members(group, buf, buf_len, out_len) =
    ccall((:zarrcore_group_members, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Csize_t}), group, buf, buf_len, out_len)

zarrcore_group_attributes_get(group, buf, buf_len, out_len) =
    ccall((:zarrcore_group_attributes_get, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Csize_t}), group, buf, buf_len, out_len)

zarrcore_group_attributes_set(group, attributes_json) =
    ccall((:zarrcore_group_attributes_set, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring), group, attributes_json)

zarrcore_array_create(store, path, zarr_format, dtype, ndim, shape, chunks, shards,
                      codec, fill_value, overwrite, out_array) =
    ccall((:zarrcore_array_create, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Int32, Cstring, Csize_t, Ptr{UInt64}, Ptr{UInt64},
           Ptr{UInt64}, Ptr{UInt8}, Ptr{UInt8}, Int32, Ptr{Ptr{Cvoid}}),
          store, path, zarr_format, dtype, ndim, shape, chunks, shards,
          codec, fill_value, overwrite, out_array)

zarrcore_array_create_json(store, path, metadata_json, overwrite, out_array) =
    ccall((:zarrcore_array_create_json, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Cstring, Int32, Ptr{Ptr{Cvoid}}),
          store, path, metadata_json, overwrite, out_array)

zarrcore_array_open(store, path, mode, out_array) =
    ccall((:zarrcore_array_open, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Int32, Ptr{Ptr{Cvoid}}), store, path, mode, out_array)

zarrcore_array_open_wait(store, path, mode, timeout_ms, out_array) =
    ccall((:zarrcore_array_open_wait, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Int32, UInt64, Ptr{Ptr{Cvoid}}), store, path, mode, timeout_ms,
          out_array)

zarrcore_array_flush(array) =
    ccall((:zarrcore_array_flush, libzarrcore), Int32, (Ptr{Cvoid},), array)

zarrcore_array_close(array) =
    ccall((:zarrcore_array_close, libzarrcore), Int32, (Ptr{Cvoid},), array)

zarrcore_array_ndim(array, out_ndim) =
    ccall((:zarrcore_array_ndim, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Csize_t}), array, out_ndim)

zarrcore_array_shape(array, out_shape, len) =
    ccall((:zarrcore_array_shape, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt64}, Csize_t), array, out_shape, len)

zarrcore_array_chunk_shape(array, out_chunks, len) =
    ccall((:zarrcore_array_chunk_shape, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt64}, Csize_t), array, out_chunks, len)

zarrcore_array_shard_shape(array, out_shards, len, out_sharded) =
    ccall((:zarrcore_array_shard_shape, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt64}, Csize_t, Ptr{Int32}), array, out_shards, len, out_sharded)

zarrcore_array_dtype(array, out_dtype) =
    ccall((:zarrcore_array_dtype, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Int32}), array, out_dtype)

zarrcore_array_dtype_str(array, buf, buf_len, out_len) =
    ccall((:zarrcore_array_dtype_str, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Csize_t}), array, buf, buf_len, out_len)

zarrcore_array_item_size(array, out_size) =
    ccall((:zarrcore_array_item_size, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Csize_t}), array, out_size)

zarrcore_array_num_bytes(array, out_bytes) =
    ccall((:zarrcore_array_num_bytes, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt64}), array, out_bytes)

zarrcore_array_fill_value(array, buf, buf_len) =
    ccall((:zarrcore_array_fill_value, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Cvoid}, Csize_t), array, buf, buf_len)

zarrcore_array_metadata_json(array, buf, buf_len, out_len) =
    ccall((:zarrcore_array_metadata_json, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Csize_t}), array, buf, buf_len, out_len)

zarrcore_array_zarr_format(array, out_format) =
    ccall((:zarrcore_array_zarr_format, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Int32}), array, out_format)

zarrcore_array_mode(array, out_mode) =
    ccall((:zarrcore_array_mode, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{Int32}), array, out_mode)

zarrcore_array_attributes_get(array, buf, buf_len, out_len) =
    ccall((:zarrcore_array_attributes_get, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt8}, Csize_t, Ptr{Csize_t}), array, buf, buf_len, out_len)

zarrcore_array_attributes_set(array, attributes_json) =
    ccall((:zarrcore_array_attributes_set, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring), array, attributes_json)

zarrcore_array_read_region(array, start, count, ndim, order, buf, buf_len) =
    ccall((:zarrcore_array_read_region, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt64}, Ptr{UInt64}, Csize_t, Int32, Ptr{Cvoid}, Csize_t),
          array, start, count, ndim, order, buf, buf_len)

zarrcore_array_write_region(array, start, count, ndim, order, buf, buf_len) =
    ccall((:zarrcore_array_write_region, libzarrcore), Int32,
          (Ptr{Cvoid}, Ptr{UInt64}, Ptr{UInt64}, Csize_t, Int32, Ptr{Cvoid}, Csize_t),
          array, start, count, ndim, order, buf, buf_len)

zarrcore_array_read_bytes(array, offset, buf, len) =
    ccall((:zarrcore_array_read_bytes, libzarrcore), Int32,
          (Ptr{Cvoid}, UInt64, Ptr{Cvoid}, Csize_t), array, offset, buf, len)

zarrcore_array_write_bytes(array, offset, buf, len) =
    ccall((:zarrcore_array_write_bytes, libzarrcore), Int32,
          (Ptr{Cvoid}, UInt64, Ptr{Cvoid}, Csize_t), array, offset, buf, len)

zarrcore_copy(src, src_path, dst, dst_path, options_json, progress, user_data,
              report_buf, report_buf_len, report_len) =
    ccall((:zarrcore_copy, libzarrcore), Int32,
          (Ptr{Cvoid}, Cstring, Ptr{Cvoid}, Cstring, Ptr{UInt8}, Ptr{Cvoid}, Ptr{Cvoid},
           Ptr{UInt8}, Csize_t, Ptr{Csize_t}),
          src, src_path, dst, dst_path, options_json, progress, user_data,
          report_buf, report_buf_len, report_len)

zarrcore_test_force_panic(armed) =
    ccall((:zarrcore_test_force_panic, libzarrcore), Int32, (Int32,), armed)

end # module LibZarrCore

using .LibZarrCore

# ---- errors ----------------------------------------------------------------

"A failed call: the status code, its name and the library's message."
struct ZarrCoreError <: Exception
    status::Int32
    name::String
    message::String
end

Base.showerror(io::IO, e::ZarrCoreError) = print(io, e.name, ": ", e.message)

"The calling thread's message for its last failed call."
function last_error_message()
    len = Ref{Csize_t}(0)
    zarrcore_error_message(C_NULL, 0, len)
    buf = Vector{UInt8}(undef, len[] + 1)
    zarrcore_error_message(buf, length(buf), len)
    return String(buf[1:min(len[], length(buf) - 1)])
end

function check(status::Integer)
    if status != ZARRCORE_OK
        name = unsafe_string(zarrcore_status_str(status))
        throw(ZarrCoreError(Int32(status), name, last_error_message()))
    end
    return nothing
end

"Calls `f(buf, buf_len, out_len)` with a buffer that fits; returns the string."
function get_string(f)
    len = Ref{Csize_t}(0)
    st = f(C_NULL, 0, len)
    st == ZARRCORE_OK || st == ZARRCORE_E_BUFFER_LENGTH || check(st)
    buf = Vector{UInt8}(undef, len[] + 1)
    check(f(buf, length(buf), len))
    return String(buf[1:len[]])
end

version() = unsafe_string(zarrcore_version_string())
version_number() = zarrcore_version()

# ---- handles ---------------------------------------------------------------

"An open store; closed by `close` or the finalizer."
mutable struct Store
    ptr::Ptr{Cvoid}
    function Store(ptr::Ptr{Cvoid})
        s = new(ptr)
        finalizer(s) do x
            x.ptr == C_NULL || zarrcore_store_close(x.ptr)
            x.ptr = C_NULL
        end
        return s
    end
end

"An open group."
mutable struct Group
    ptr::Ptr{Cvoid}
    function Group(ptr::Ptr{Cvoid})
        g = new(ptr)
        finalizer(g) do x
            x.ptr == C_NULL || zarrcore_group_close(x.ptr)
            x.ptr = C_NULL
        end
        return g
    end
end

"An open array (read or write handle)."
mutable struct ZArray
    ptr::Ptr{Cvoid}
    function ZArray(ptr::Ptr{Cvoid})
        a = new(ptr)
        finalizer(a) do x
            x.ptr == C_NULL || zarrcore_array_close(x.ptr)
            x.ptr = C_NULL
        end
        return a
    end
end

function open_store(location::AbstractString, mode::Integer = STORE_READ_ONLY)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(zarrcore_store_open(location, Int32(mode), out))
    return Store(out[])
end

flush(s::Store) = check(zarrcore_store_flush(s.ptr))

function close(s::Store)
    p, s.ptr = s.ptr, C_NULL
    check(zarrcore_store_close(p))
end

function create_group(s::Store, path::AbstractString; zarr_format::Integer = 3,
                      attributes_json::Union{Nothing,AbstractString} = nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    attrs = attributes_json === nothing ? C_NULL : Vector{UInt8}(string(attributes_json, '\0'))
    GC.@preserve attrs check(zarrcore_group_create(s.ptr, path, Int32(zarr_format), attrs, out))
    return Group(out[])
end

function open_group(s::Store, path::AbstractString)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(zarrcore_group_open(s.ptr, path, out))
    return Group(out[])
end

function close(g::Group)
    p, g.ptr = g.ptr, C_NULL
    check(zarrcore_group_close(p))
end

function zarr_format(g::Group)
    f = Ref{Int32}(0)
    check(zarrcore_group_zarr_format(g.ptr, f))
    return Int(f[])
end

members_json(g::Group) = get_string((b, n, l) -> zarrcore_group_members(g.ptr, b, n, l))
attributes_json(g::Group) = get_string((b, n, l) -> zarrcore_group_attributes_get(g.ptr, b, n, l))
set_attributes_json(g::Group, json::AbstractString) =
    check(zarrcore_group_attributes_set(g.ptr, json))

# Julia element type -> a dtype string the library understands.
const DTYPE_NAMES = Dict{DataType,String}(
    Bool => "bool", Int8 => "int8", Int16 => "int16", Int32 => "int32", Int64 => "int64",
    UInt8 => "uint8", UInt16 => "uint16", UInt32 => "uint32", UInt64 => "uint64",
    Float16 => "float16", Float32 => "float32", Float64 => "float64",
    ComplexF32 => "complex64", ComplexF64 => "complex128",
)

cstr_or_null(x) = x === nothing ? C_NULL : Vector{UInt8}(string(x, '\0'))

"""
    create_array(store, path, T, shape; chunks, shards, codec, fill_value, zarr_format, overwrite)

`shape`, `chunks` and `shards` are in the Zarr (C) dimension order.
Returns a write handle.
"""
function create_array(s::Store, path::AbstractString, ::Type{T}, shape;
                      chunks = nothing, shards = nothing, codec = nothing,
                      fill_value = nothing, zarr_format::Integer = 3,
                      overwrite::Bool = false) where {T}
    shp = UInt64[shape...]
    chk = chunks === nothing ? nothing : UInt64[chunks...]
    shd = shards === nothing ? nothing : UInt64[shards...]
    cod = cstr_or_null(codec)
    fil = cstr_or_null(fill_value === nothing ? nothing : string(fill_value))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve shp chk shd cod fil begin
        check(zarrcore_array_create(s.ptr, path, Int32(zarr_format), DTYPE_NAMES[T],
                                    length(shp), shp,
                                    chk === nothing ? C_NULL : pointer(chk),
                                    shd === nothing ? C_NULL : pointer(shd),
                                    cod, fil, Int32(overwrite), out))
    end
    return ZArray(out[])
end

function create_array_json(s::Store, path::AbstractString, metadata_json::AbstractString;
                           overwrite::Bool = false)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(zarrcore_array_create_json(s.ptr, path, metadata_json, Int32(overwrite), out))
    return ZArray(out[])
end

function open_array(s::Store, path::AbstractString, mode::Integer = MODE_READ;
                    wait_seconds::Real = 0)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    if wait_seconds > 0
        # Wait for other processes holding the array in the other mode.
        check(zarrcore_array_open_wait(s.ptr, path, Int32(mode),
                                       UInt64(round(wait_seconds * 1000)), out))
    else
        check(zarrcore_array_open(s.ptr, path, Int32(mode), out))
    end
    return ZArray(out[])
end

flush(a::ZArray) = check(zarrcore_array_flush(a.ptr))

function close(a::ZArray)
    p, a.ptr = a.ptr, C_NULL
    check(zarrcore_array_close(p))
end

function ndims(a::ZArray)
    n = Ref{Csize_t}(0)
    check(zarrcore_array_ndim(a.ptr, n))
    return Int(n[])
end

function _dims(f, a::ZArray)
    v = zeros(UInt64, ndims(a))
    check(f(a.ptr, v, length(v)))
    return Tuple(Int.(v))
end

"Shape in Zarr (C) dimension order."
shape(a::ZArray) = _dims(zarrcore_array_shape, a)
chunk_shape(a::ZArray) = _dims(zarrcore_array_chunk_shape, a)

"Shard shape in Zarr (C) order, or `nothing` when not sharded."
function shard_shape(a::ZArray)
    v = zeros(UInt64, ndims(a))
    sharded = Ref{Int32}(0)
    check(zarrcore_array_shard_shape(a.ptr, v, length(v), sharded))
    return sharded[] == 1 ? Tuple(Int.(v)) : nothing
end

function dtype_code(a::ZArray)
    d = Ref{Int32}(0)
    check(zarrcore_array_dtype(a.ptr, d))
    return d[]
end

"The Julia element type (errors for fixed-length string types)."
function eltype(a::ZArray)
    code = dtype_code(a)
    haskey(DTYPES, code) || error("string data types have no Julia element type here; use read_bytes")
    return DTYPES[code]
end

dtype_str(a::ZArray) = get_string((b, n, l) -> zarrcore_array_dtype_str(a.ptr, b, n, l))

function item_size(a::ZArray)
    n = Ref{Csize_t}(0)
    check(zarrcore_array_item_size(a.ptr, n))
    return Int(n[])
end

function num_bytes(a::ZArray)
    n = Ref{UInt64}(0)
    check(zarrcore_array_num_bytes(a.ptr, n))
    return n[]
end

function fill_value(a::ZArray)
    T = eltype(a)
    v = Ref{T}()
    check(zarrcore_array_fill_value(a.ptr, v, sizeof(T)))
    return v[]
end

metadata_json(a::ZArray) = get_string((b, n, l) -> zarrcore_array_metadata_json(a.ptr, b, n, l))
attributes_json(a::ZArray) = get_string((b, n, l) -> zarrcore_array_attributes_get(a.ptr, b, n, l))
set_attributes_json(a::ZArray, json::AbstractString) =
    check(zarrcore_array_attributes_set(a.ptr, json))

function zarr_format(a::ZArray)
    f = Ref{Int32}(0)
    check(zarrcore_array_zarr_format(a.ptr, f))
    return Int(f[])
end

function mode(a::ZArray)
    m = Ref{Int32}(0)
    check(zarrcore_array_mode(a.ptr, m))
    return m[]
end

"""
    read_region(a, start, count)

Reads the region with 1-based `start` and extent `count`, both in Zarr (C)
dimension order; returns a Julia array of size `count`, indexed like the
Zarr array (the library transposes into Fortran order while copying).
"""
function read_region(a::ZArray, start, count)
    T = eltype(a)
    out = Array{T}(undef, count...)
    st = UInt64[(s - 1) for s in start]
    ct = UInt64[count...]
    GC.@preserve out st ct check(zarrcore_array_read_region(
        a.ptr, st, ct, length(ct), ORDER_F, out, sizeof(out)))
    return out
end

"Writes the Julia array `data` (indexed like the Zarr array) at 1-based `start`."
function write_region(a::ZArray, start, data::AbstractArray)
    buf = convert(Array{eltype(a)}, data)
    st = UInt64[(s - 1) for s in start]
    ct = UInt64[size(buf)...]
    GC.@preserve buf st ct check(zarrcore_array_write_region(
        a.ptr, st, ct, length(ct), ORDER_F, buf, sizeof(buf)))
    return nothing
end

"""
    read_region_reversed(a, start, count)

Like `read_region` but without transposition: returns an array whose dims
are `reverse(count)` (C order seen column-major), i.e. `x[j, i]` is Zarr
element `(i, j)`.
"""
function read_region_reversed(a::ZArray, start, count)
    T = eltype(a)
    out = Array{T}(undef, reverse(Tuple(count))...)
    st = UInt64[(s - 1) for s in start]
    ct = UInt64[count...]
    GC.@preserve out st ct check(zarrcore_array_read_region(
        a.ptr, st, ct, length(ct), ORDER_C, out, sizeof(out)))
    return out
end

"Writes `data` whose dims are the reverse of the Zarr region's (no transposition)."
function write_region_reversed(a::ZArray, start, data::AbstractArray)
    buf = convert(Array{eltype(a)}, data)
    st = UInt64[(s - 1) for s in start]
    ct = UInt64[reverse(size(buf))...]
    GC.@preserve buf st ct check(zarrcore_array_write_region(
        a.ptr, st, ct, length(ct), ORDER_C, buf, sizeof(buf)))
    return nothing
end

"Reads `n` bytes at 0-based byte `offset` of the C-order view of the array."
function read_bytes(a::ZArray, offset::Integer, n::Integer)
    buf = Vector{UInt8}(undef, n)
    check(zarrcore_array_read_bytes(a.ptr, UInt64(offset), buf, n))
    return buf
end

"Writes `data` at 0-based byte `offset` of the C-order view of the array."
write_bytes(a::ZArray, offset::Integer, data::Vector{UInt8}) =
    check(zarrcore_array_write_bytes(a.ptr, UInt64(offset), data, length(data)))

"For tests only: the next call on this thread panics inside the library."
# ---- copy ------------------------------------------------------------------

# The C progress callback: `user_data` is a `Ref{Any}` holding the Julia
# function. zarrcore_copy calls it only on the thread that called
# zarrcore_copy (a Julia thread), so calling back into Julia is allowed.
# An exception must not unwind into C: it is kept and cancels the copy.
function _copy_progress(user_data::Ptr{Cvoid}, done::UInt64, total::UInt64)::Int32
    state = unsafe_pointer_to_objref(user_data)::Base.RefValue{Any}
    f, _ = state[]
    try
        return f(done, total) === false ? Int32(1) : Int32(0)
    catch e
        state[] = (f, e)
        return Int32(1)
    end
end

"""
    copy_array(src, src_path, dst, dst_path; options = "{}", progress = nothing)

Out-of-core copy (`zarrcore_copy`): transpose, rechunk, re-encode, convert
under a memory budget. `options` is the JSON object text of zarrcore_copy
(e.g. `"{\"transpose\": [1, 0], \"memory\": \"256MiB\"}"`).
`progress(done_bytes, total_bytes)` is called on this thread; returning
`false` cancels (then the result's `complete` is false; call again with
`\"resume\": true` to finish). Returns `(complete::Bool, report::String)`,
the report being JSON text.
"""
function copy_array(src::Store, src_path::AbstractString, dst::Store, dst_path::AbstractString;
                    options::AbstractString = "{}", progress = nothing)
    buf = Vector{UInt8}(undef, COPY_REPORT_MAX_LEN)
    len = Ref{Csize_t}(0)
    state = Ref{Any}((progress, nothing))
    cb = progress === nothing ? C_NULL :
        @cfunction(_copy_progress, Int32, (Ptr{Cvoid}, UInt64, UInt64))
    st = GC.@preserve state buf zarrcore_copy(
        src.ptr, src_path, dst.ptr, dst_path, Vector{UInt8}(string(options, '\0')), cb,
        progress === nothing ? C_NULL : pointer_from_objref(state), buf, length(buf), len)
    _, err = state[]
    err === nothing || throw(err)
    st == ZARRCORE_OK || st == ZARRCORE_E_CANCELLED || check(st)
    return (st == ZARRCORE_OK, String(buf[1:len[]]))
end

force_panic(armed::Bool = true) = check(zarrcore_test_force_panic(Int32(armed)))

end # module ZarrCore
