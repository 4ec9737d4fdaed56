//! Choosing the device once, to pass down to models and training.
use tch::{Cuda, Device};

use crate::error::{Error, Result};

/// Makes sure libtorch's CUDA part is loaded, then says whether a GPU is usable.
///
/// Binaries and tests of this crate link `libtorch_cuda` (see build.rs), but code compiled by
/// the evcxr kernel or by another crate may not: the linker drops the library because no
/// symbol of it is used, and libtorch then reports no GPU. Loading it by hand runs its
/// initialisers, which register CUDA with libtorch.
pub fn cuda_is_available() -> bool {
    load_torch_cuda();
    Cuda::is_available()
}

/// CUDA when a GPU is usable, else the CPU.
pub fn best_device() -> Device {
    if cuda_is_available() {
        Device::Cuda(0)
    } else {
        Device::Cpu
    }
}

/// The `--device` choice of the command-line tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA when a GPU is usable, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

impl DeviceChoice {
    /// The device this choice names; `Cuda` without a usable GPU is an error.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(best_device()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda if cuda_is_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Cuda => Err(Error::invalid(
                "--device cuda",
                "libtorch sees no GPU; run `make check-gpu`, or use --device cpu",
            )),
        }
    }

    /// The command-line spelling, e.g. to pass the choice on to another process.
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
        }
    }
}

/// A line saying what libtorch sees, e.g. for a notebook's first cell.
pub fn describe() -> String {
    let cuda = cuda_is_available();
    let mut line = format!(
        "libtorch {} (tch 0.26.0): CUDA {}",
        torch_version(),
        if cuda { "available" } else { "not available" }
    );
    if cuda {
        line.push_str(&format!(
            ", {} GPU(s), cuDNN {}",
            Cuda::device_count(),
            if Cuda::cudnn_is_available() {
                "available"
            } else {
                "not available"
            }
        ));
    }
    line.push_str(&format!(", {} CPU threads", tch::get_num_threads()));
    line
}

/// The PyTorch version this crate was built against, from torch-sys' build.
pub fn torch_version() -> &'static str {
    option_env!("LSTM_SUPPORT_TORCH_VERSION").unwrap_or("unknown")
}

fn load_torch_cuda() {
    static LOADED: once_cell::sync::OnceCell<()> = once_cell::sync::OnceCell::new();
    LOADED.get_or_init(|| {
        let Some(dir) = option_env!("LSTM_SUPPORT_LIBTORCH_LIB") else {
            return;
        };
        let path = std::path::Path::new(dir).join("libtorch_cuda.so");
        if !path.exists() {
            return;
        }
        if let Ok(c_path) = std::ffi::CString::new(path.to_string_lossy().as_bytes()) {
            // SAFETY: dlopen with a valid NUL-terminated path; the handle is deliberately never
            // closed so the library stays loaded for the life of the process.
            unsafe {
                libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    /// Test executables are linked like binaries: libtorch_cuda must be loaded at start-up
    /// (DT_NEEDED kept by --no-as-needed), else CUDA would never be found on a GPU machine.
    #[test]
    fn libtorch_cuda_is_linked_when_the_wheel_has_it() {
        let Some(dir) = option_env!("LSTM_SUPPORT_LIBTORCH_LIB") else {
            panic!("build.rs did not record libtorch's directory");
        };
        if !std::path::Path::new(dir).join("libtorch_cuda.so").exists() {
            eprintln!("CPU-only libtorch: nothing to check");
            return;
        }
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(
            maps.contains("libtorch_cuda.so"),
            "libtorch_cuda.so is not loaded: the linker dropped it"
        );
    }

    #[test]
    fn describe_names_the_torch_version() {
        assert!(
            super::describe().starts_with("libtorch 2.13.0"),
            "{}",
            super::describe()
        );
    }
}
