//! [`device`]: burn devices by name (`cpu`, `cuda`, `wgpu`), with the cargo
//! feature a missing one needs.

use burn::tensor::Device;

use crate::error::{Error, Result};

/// The burn device named `name`: `cpu` (Flex), `cuda` or `wgpu` (each needs
/// its cargo feature), with autodiff.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::flex().autodiff()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0).autodiff()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice).autodiff()),
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(missing_device(name)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => Err(missing_device(name)),
        other => Err(Error::config("device", format!("'{other}' (known: cpu, cuda, wgpu)"))),
    }
}

/// The error for a device this build was made without.
#[cfg(not(all(feature = "cuda", feature = "wgpu")))]
fn missing_device(name: &str) -> Error {
    Error::config("device", format!("{name}: this build has no {name} support (build with `--features {name}`)"))
}
