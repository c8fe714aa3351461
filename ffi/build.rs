//! Gives the shared library its soname (`libzarrcore.so.0`): the `0` is the
//! ABI major version, bumped only when a released function changes meaning.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzarrcore.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
