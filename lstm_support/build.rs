//! Link-time settings that let binaries and test executables built from this crate find libtorch
//! without LD_LIBRARY_PATH, and keep libtorch_cuda linked so that CUDA is found where it exists.
use std::path::Path;

fn main() {
    // Set by torch-sys from its `cargo:libtorch_lib=` line: the directory holding libtorch*.so,
    // here `.venv/lib/python3.*/site-packages/torch/lib`. torch-sys declares `links = "tch"`, so
    // the variable is DEP_TCH_LIBTORCH_LIB (its comment says DEP_TORCH_SYS_..., accept both).
    let lib_dir = ["DEP_TCH_LIBTORCH_LIB", "DEP_TORCH_SYS_LIBTORCH_LIB"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok());
    let Some(lib_dir) = lib_dir else {
        println!(
            "cargo:warning=torch-sys did not report its libtorch directory; no rpath embedded"
        );
        return;
    };
    // For device.rs: where libtorch_cuda is, to load it where the linker dropped it (evcxr).
    println!("cargo:rustc-env=LSTM_SUPPORT_LIBTORCH_LIB={lib_dir}");
    if let Some(version) = torch_version(&lib_dir) {
        println!("cargo:rustc-env=LSTM_SUPPORT_TORCH_VERSION={version}");
    }
    // rustc-link-arg reaches this package's binaries, tests, examples and benches.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    if Path::new(&lib_dir).join("libtorch_cuda.so").exists() {
        // Nothing in our code references a symbol of libtorch_cuda, so with the default
        // --as-needed the linker drops it, its static initialisers never run, and
        // tch::Cuda::is_available() stays false even on a GPU machine.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}

/// Reads `__version__` from torch/version.py beside torch/lib.
fn torch_version(lib_dir: &str) -> Option<String> {
    let version_py = Path::new(lib_dir).parent()?.join("version.py");
    let text = std::fs::read_to_string(version_py).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
}
