// The C++17 wrapper (zarrcore.hpp) in one page: RAII handles, exceptions
// carrying the status and message, span-style buffers.
//
//   c++ -std=c++17 example.cpp $(pkg-config --cflags --libs zarrcore)
//   ./a.out /tmp/example_cpp.zarr
#include <zarrcore.hpp>

#include <cstdint>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
    const std::string location = argc > 1 ? argv[1] : "example_cpp.zarr";
    try {
        auto store = zarrcore::store::open(location, zarrcore::store_mode::create);
        zarrcore::group::create(store, "", zarrcore::format::v3, std::string("{\"project\":\"demo\"}"));

        zarrcore::array_options opts;
        opts.dtype = "uint16";
        opts.shape = {256, 256};
        opts.chunks = std::vector<std::uint64_t>{32, 32};
        opts.shards = std::vector<std::uint64_t>{128, 128};
        opts.codec = "zstd:5";
        opts.overwrite = true;
        {
            auto image = zarrcore::array::create(store, "image", opts);
            std::vector<std::uint16_t> pixels(256 * 256);
            for (std::size_t k = 0; k < pixels.size(); k++) {
                pixels[k] = static_cast<std::uint16_t>(k % 65521);
            }
            image.write_region({0, 0}, {256, 256}, pixels);
            image.close();  // flush errors surface here as exceptions
        }

        auto image = zarrcore::array::open(store, "image");
        auto tile = image.read_region<std::uint16_t>({100, 100}, {2, 3});
        std::cout << image.dtype_str() << " shard " << (*image.shard_shape())[0] << " tile:";
        for (auto v : tile) {
            std::cout << ' ' << v;
        }
        std::cout << '\n';

        // Errors are exceptions with the status and the library's message.
        try {
            zarrcore::array::open(store, "image", zarrcore::mode::write);
        } catch (const zarrcore::error& e) {
            std::cout << "expected: " << e.status_name() << ": " << e.what() << '\n';
        }
        return tile[0] == (100 * 256 + 100) % 65521 ? 0 : 1;
    } catch (const zarrcore::error& e) {
        std::cerr << e.status_name() << ": " << e.what() << '\n';
        return 1;
    }
}
