//! Gives the shared library its soname (`libzarrcore.so.0`): the `0` is the
//! ABI major version, bumped only when a released function changes meaning.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzarrcore.so.0");
        // Some dependencies carry `#[no_mangle]` C exports of their own
        // (crc-fast, pulled in by object_store, exports `crc_fast_*`), which
        // rustc's version script makes public; ours hides them.
        let map = format!("{}/exports.map", env!("CARGO_MANIFEST_DIR"));
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={map}");
        println!("cargo:rerun-if-changed=exports.map");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
