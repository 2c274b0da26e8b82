//! Run-time selection of the instruction set for the hot loops.
//!
//! Each hot loop is written once, generic over `const FMA: bool`, and
//! compiled three times by `dispatched!`: for AVX-512, for AVX2+FMA and
//! for the baseline target; the variant is chosen at run time, so the
//! binary needs no `target-cpu` flag. FMA comes from `mul_add`, which is
//! only fast where the FMA feature is enabled, hence `fmadd`.

use std::sync::OnceLock;

/// The instruction set the kernels run with, detected at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(pub(crate) IsaKind);

#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsaKind {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The instruction set the kernels use on this CPU: AVX2+FMA where
    /// available, else the baseline. The environment variable
    /// `FAIRTRAIN_ISA` can ask for `generic` (e.g. to compare results across
    /// machines) or `avx512` (no measurable gain at these layer widths, so
    /// not the default); a request the CPU cannot honour is ignored.
    pub fn detect() -> Isa {
        let requested = std::env::var("FAIRTRAIN_ISA").ok();
        if requested.as_deref() == Some("generic") {
            return Isa(IsaKind::Generic);
        }
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            let avx512 = avx2
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl");
            if avx512 && requested.as_deref() == Some("avx512") {
                return Isa(IsaKind::Avx512);
            }
            if avx2 {
                return Isa(IsaKind::Avx2Fma);
            }
        }
        Isa(IsaKind::Generic)
    }

    /// The baseline instruction set (no run-time features).
    pub fn generic() -> Isa {
        Isa(IsaKind::Generic)
    }

    /// A short name: `generic`, `avx2+fma` or `avx512`.
    pub fn name(self) -> &'static str {
        match self.0 {
            IsaKind::Generic => "generic",
            #[cfg(target_arch = "x86_64")]
            IsaKind::Avx2Fma => "avx2+fma",
            #[cfg(target_arch = "x86_64")]
            IsaKind::Avx512 => "avx512",
        }
    }
}

/// Defines a dispatching entry point for each generic kernel `$imp::<FMA>`.
macro_rules! dispatched {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $imp:ident;) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name(isa: $crate::simd::Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2($($arg: $ty),*) {
                    $imp::<true>($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx512($($arg: $ty),*) {
                    $imp::<true>($($arg),*)
                }
                match isa.0 {
                    // SAFETY: these variants are only built by `Isa::detect`
                    // after run-time detection of the enabled features.
                    $crate::simd::IsaKind::Avx2Fma => return unsafe { avx2($($arg),*) },
                    $crate::simd::IsaKind::Avx512 => return unsafe { avx512($($arg),*) },
                    $crate::simd::IsaKind::Generic => {}
                }
            }
            $imp::<false>($($arg),*)
        }
    };
}

pub(crate) use dispatched;

/// The instruction set detected once for this process (see [`Isa::detect`]).
pub fn isa() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(Isa::detect)
}

/// `a * b + c`, fused where the FMA feature is enabled.
#[inline(always)]
pub(crate) fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// [`fmadd`] in f64.
#[inline(always)]
pub(crate) fn fmadd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `e^x` for `x` in about `[-87, 88]` (clamped outside), within 2 ulp of
/// the exact value, written without branches or calls so that a loop over
/// it vectorizes (libm's `expf` is a call per element). Cephes' method:
/// `x = n ln 2 + r` with `|r| <= ln 2 / 2`, a degree-6 polynomial for
/// `e^r`, and `2^n` put into the exponent bits.
#[inline(always)]
pub(crate) fn exp_approx<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = fmadd::<FMA>(x, LOG2E, ROUND);
    let n = t - ROUND;
    // ln 2 in two parts, so that n * ln 2 is exact in the first.
    let r = fmadd::<FMA>(n, -0.693_359_4, x);
    let r = fmadd::<FMA>(n, 2.121_944_4e-4, r);
    let mut p = 1.987_569_1e-4;
    p = fmadd::<FMA>(p, r, 1.398_199_9e-3);
    p = fmadd::<FMA>(p, r, 8.333_452e-3);
    p = fmadd::<FMA>(p, r, 4.166_579_6e-2);
    p = fmadd::<FMA>(p, r, 0.166_666_65);
    p = fmadd::<FMA>(p, r, 0.5);
    let y = fmadd::<FMA>(p, r * r, r) + 1.0;
    let exponent = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    y * f32::from_bits(((exponent + 127) << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_within_two_ulp_of_exp() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            for value in [exp_approx::<false>(x), exp_approx::<true>(x)] {
                let exact = (x as f64).exp();
                let ulp = (exact as f32).to_bits().abs_diff(value.to_bits());
                assert!(ulp <= 2, "exp({x}) = {value}, exact {exact} ({ulp} ulp)");
            }
            x += 0.001_7;
        }
        assert_eq!(exp_approx::<false>(0.0), 1.0);
        assert!(exp_approx::<false>(-1e9) > 0.0 && exp_approx::<false>(1e9).is_finite());
    }
}
