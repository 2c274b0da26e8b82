//! `[algorithm]` keys to and from an [`AlgorithmConfig`]: the preset's
//! settings with the keys given laid over them, and back. The keys an
//! algorithm takes are exactly the ones its settings write back
//! ([`applicable`]), so no list of them is kept by hand.

use super::config::AlgorithmKeys;
use crate::algorithms::methods::MethodConfig;
use crate::algorithms::{
    AlgorithmConfig, AlgorithmName, AlmConfig, DualConfig, GdaConfig, GhostConfig, IalmConfig, NupiConfig,
    PenaltyConfig, Preset, PrimalConfig, PrimalKind, ProxyConfig, SpbmConfig, SwitchingConfig,
};
use crate::error::Error;

/// The `[algorithm]` keys of `config`: its name and every hyperparameter it
/// takes, set.
pub fn keys_of(config: &AlgorithmConfig) -> AlgorithmKeys {
    let mut k = AlgorithmKeys { name: Some(config.name()), ..AlgorithmKeys::default() };
    // Momentum is SGD's, and the anchor rate matters only with smoothing.
    let primal = |k: &mut AlgorithmKeys, p: PrimalConfig, smoothing: bool| {
        k.primal = Some(p.kind);
        k.lr = Some(p.lr);
        if p.kind == PrimalKind::Sgd {
            k.momentum = Some(p.momentum);
        }
        if smoothing {
            k.mu = Some(p.mu);
            if p.mu > 0.0 {
                k.beta = Some(p.beta);
            }
        }
    };
    match *config {
        AlgorithmConfig::Lagrangian { dual, primal: p, .. } => {
            primal(&mut k, p, true);
            match dual {
                DualConfig::Alm(c) => {
                    k.dual_lr = Some(c.dual_lr);
                    k.penalty = Some(c.penalty);
                    k.augmentation = Some(c.augmentation);
                    k.dual_bound = Some(c.dual_bound);
                    k.grow_dual_bound = Some(c.grow_bound);
                    k.constraint_averaging = Some(c.constraint_averaging);
                    k.average_penalty = c.average_penalty;
                }
                DualConfig::Ialm(c) => {
                    k.penalty = Some(c.penalty);
                    k.penalty_growth = Some(c.penalty_growth);
                    k.dual_lr = Some(c.dual_lr);
                    k.dual_bound = Some(c.dual_bound);
                }
                DualConfig::Gda(c) => {
                    k.dual_lr = Some(c.dual_lr);
                    k.dual_bound = Some(c.dual_bound);
                }
                DualConfig::Nupi(c) => {
                    k.dual_lr = Some(c.dual_lr);
                    k.kp = Some(c.kp);
                    k.nu = Some(c.nu);
                    k.penalty = Some(c.penalty);
                    k.dual_bound = Some(c.dual_bound);
                }
                DualConfig::Spbm(c) => {
                    k.dual_averaging = Some(c.dual_averaging);
                    k.penalty_decay = Some(c.penalty_decay);
                    k.delta = Some(c.delta);
                    k.barrier = Some(c.barrier);
                    k.initial_multiplier = Some(c.initial_multiplier);
                    k.dual_bound = Some(c.dual_bound);
                }
                DualConfig::Penalty(c) => {
                    k.penalty = Some(c.penalty);
                    k.penalty_growth = Some(c.penalty_growth);
                    k.constraint_averaging = Some(c.constraint_averaging);
                }
                DualConfig::Proxy(c) => {
                    k.dual_lr = Some(c.dual_lr);
                    k.regret = Some(c.regret);
                }
            }
        }
        AlgorithmConfig::Switching(c) => {
            k.lr = Some(c.lr);
            k.constraint_lr = Some(c.constraint_lr);
            k.tolerance = Some(c.tolerance);
            k.constraint_averaging = Some(c.constraint_averaging);
        }
        AlgorithmConfig::Ghost(c) => {
            k.lr = Some(c.lr);
            k.step_decay = Some(c.step_decay);
            k.ghost_alpha = Some(c.alpha);
            k.ghost_base_batch = Some(c.base_batch);
            k.ghost_max_level = Some(c.max_level);
            k.tau = Some(c.tau);
            k.trust_radius = Some(c.trust_radius);
            k.ghost_radius = Some(c.ghost_radius);
            k.ghost_weight = Some(c.ghost_weight);
        }
        AlgorithmConfig::Unconstrained { name, primal: p } => {
            // The optimizer is the algorithm's name: only its step (and
            // SGD's momentum) can be set.
            k.lr = Some(p.lr);
            if name == AlgorithmName::Sgd {
                k.momentum = Some(p.momentum);
            }
        }
        AlgorithmConfig::Method(m) => {
            primal(&mut k, m.primal, false);
            match m.name {
                AlgorithmName::FairBatch => k.fairbatch_alpha = Some(m.alpha),
                AlgorithmName::Fermi => {
                    k.fermi_lambda = Some(m.lambda);
                    k.dual_lr = Some(m.dual_lr);
                }
                _ => {
                    k.meta_fraction = Some(m.meta_fraction);
                    k.meta_objective = Some(m.meta_objective);
                }
            }
        }
    }
    k
}

/// The keys (kebab-case names) set in `keys`, besides `name`.
pub fn set_keys(keys: &AlgorithmKeys) -> Vec<String> {
    let table = toml::Table::try_from(keys).unwrap_or_default();
    table.keys().filter(|k| *k != "name").cloned().collect()
}

/// The keys algorithm `name` takes (some only with another key's value:
/// `momentum` with the `sgd` optimizer, `beta` with smoothing).
pub fn applicable(name: AlgorithmName) -> Vec<String> {
    let mut config = AlgorithmConfig::preset(name, Preset::Default);
    match &mut config {
        AlgorithmConfig::Lagrangian { primal, dual, .. } => {
            *primal = PrimalConfig { kind: PrimalKind::Sgd, mu: 1.0, ..*primal };
            // (Unset, the run chooses it by the number of groups.)
            if let DualConfig::Alm(c) = dual {
                c.average_penalty = Some(false);
            }
        }
        AlgorithmConfig::Method(m) => m.primal.kind = PrimalKind::Sgd,
        _ => {}
    }
    set_keys(&keys_of(&config))
}

/// The settings of `name` under `preset` with the keys given laid over
/// them. A key the settings do not use is returned in `foreign` for the
/// caller to judge (an error, or a note where a file sets it to its default).
pub fn resolve_keys(name: AlgorithmName, preset: Preset, a: &AlgorithmKeys) -> (AlgorithmConfig, Vec<String>) {
    let primal = |p: PrimalConfig| PrimalConfig {
        kind: a.primal.unwrap_or(p.kind),
        lr: a.lr.unwrap_or(p.lr),
        momentum: a.momentum.unwrap_or(p.momentum),
        mu: a.mu.unwrap_or(p.mu),
        beta: a.beta.unwrap_or(p.beta),
    };
    let config = match AlgorithmConfig::preset(name, preset) {
        AlgorithmConfig::Lagrangian { name, dual, primal: p } => {
            let dual = match dual {
                DualConfig::Alm(d) => DualConfig::Alm(AlmConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    penalty: a.penalty.unwrap_or(d.penalty),
                    augmentation: a.augmentation.unwrap_or(d.augmentation),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                    grow_bound: a.grow_dual_bound.unwrap_or(d.grow_bound),
                    constraint_averaging: a.constraint_averaging.unwrap_or(d.constraint_averaging),
                    average_penalty: a.average_penalty.or(d.average_penalty),
                }),
                DualConfig::Ialm(d) => DualConfig::Ialm(IalmConfig {
                    penalty: a.penalty.unwrap_or(d.penalty),
                    penalty_growth: a.penalty_growth.unwrap_or(d.penalty_growth),
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                    ..d
                }),
                DualConfig::Gda(d) => DualConfig::Gda(GdaConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                }),
                DualConfig::Nupi(d) => DualConfig::Nupi(NupiConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    kp: a.kp.unwrap_or(d.kp),
                    nu: a.nu.unwrap_or(d.nu),
                    penalty: a.penalty.unwrap_or(d.penalty),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                }),
                DualConfig::Spbm(d) => DualConfig::Spbm(SpbmConfig {
                    dual_averaging: a.dual_averaging.unwrap_or(d.dual_averaging),
                    penalty_decay: a.penalty_decay.unwrap_or(d.penalty_decay),
                    delta: a.delta.unwrap_or(d.delta),
                    barrier: a.barrier.unwrap_or(d.barrier),
                    initial_multiplier: a.initial_multiplier.unwrap_or(d.initial_multiplier),
                    dual_bound: a.dual_bound.unwrap_or(d.dual_bound),
                    ..d
                }),
                DualConfig::Penalty(d) => DualConfig::Penalty(PenaltyConfig {
                    penalty: a.penalty.unwrap_or(d.penalty),
                    penalty_growth: a.penalty_growth.unwrap_or(d.penalty_growth),
                    constraint_averaging: a.constraint_averaging.unwrap_or(d.constraint_averaging),
                    ..d
                }),
                DualConfig::Proxy(d) => DualConfig::Proxy(ProxyConfig {
                    dual_lr: a.dual_lr.unwrap_or(d.dual_lr),
                    regret: a.regret.unwrap_or(d.regret),
                    ..d
                }),
            };
            AlgorithmConfig::Lagrangian { name, dual, primal: primal(p) }
        }
        AlgorithmConfig::Switching(d) => AlgorithmConfig::Switching(SwitchingConfig {
            lr: a.lr.unwrap_or(d.lr),
            constraint_lr: a.constraint_lr.unwrap_or(d.constraint_lr),
            tolerance: a.tolerance.unwrap_or(d.tolerance),
            constraint_averaging: a.constraint_averaging.unwrap_or(d.constraint_averaging),
        }),
        AlgorithmConfig::Ghost(d) => AlgorithmConfig::Ghost(GhostConfig {
            lr: a.lr.unwrap_or(d.lr),
            step_decay: a.step_decay.unwrap_or(d.step_decay),
            alpha: a.ghost_alpha.unwrap_or(d.alpha),
            base_batch: a.ghost_base_batch.unwrap_or(d.base_batch),
            max_level: a.ghost_max_level.unwrap_or(d.max_level),
            tau: a.tau.unwrap_or(d.tau),
            trust_radius: a.trust_radius.unwrap_or(d.trust_radius),
            ghost_radius: a.ghost_radius.unwrap_or(d.ghost_radius),
            ghost_weight: a.ghost_weight.unwrap_or(d.ghost_weight),
            seed: d.seed,
        }),
        AlgorithmConfig::Unconstrained { name, primal: p } => AlgorithmConfig::Unconstrained {
            name,
            primal: PrimalConfig { lr: a.lr.unwrap_or(p.lr), momentum: a.momentum.unwrap_or(p.momentum), ..p },
        },
        AlgorithmConfig::Method(m) => AlgorithmConfig::Method(MethodConfig {
            primal: primal(m.primal),
            alpha: a.fairbatch_alpha.unwrap_or(m.alpha),
            lambda: a.fermi_lambda.unwrap_or(m.lambda),
            dual_lr: a.dual_lr.unwrap_or(m.dual_lr),
            meta_fraction: a.meta_fraction.unwrap_or(m.meta_fraction),
            meta_objective: a.meta_objective.unwrap_or(m.meta_objective),
            ..m
        }),
    };
    let used = set_keys(&keys_of(&config));
    let foreign: Vec<String> = set_keys(a).into_iter().filter(|k| !used.contains(k)).collect();
    (config, foreign)
}

/// The error for a key algorithm `name` does not use.
pub fn foreign_key_error(name: AlgorithmName, key: &str) -> Error {
    let condition = match key {
        "momentum" => Some("the sgd optimizer (`primal sgd`)"),
        "beta" => Some("Moreau smoothing (`mu` above 0)"),
        _ => None,
    };
    if let Some(condition) = condition.filter(|_| applicable(name).iter().any(|k| k == key)) {
        return Error::config(key, format!("--{key} applies to {name} only with {condition}"));
    }
    Error::config(
        key,
        format!(
            "--{key} does not apply to {} {name} (it takes: {})",
            if name.is_method() { "method" } else { "algorithm" },
            applicable(name).join(", ")
        ),
    )
}

/// The value key `key` has where it applies by default (the first
/// algorithm, in [`AlgorithmName::ALL`] then the methods, that takes it),
/// for judging a foreign key a file sets to that default.
pub fn default_value(key: &str, preset: Preset) -> Option<toml::Value> {
    AlgorithmName::ALL.into_iter().chain(AlgorithmName::METHODS).find_map(|name| {
        let keys = keys_of(&AlgorithmConfig::preset(name, preset));
        toml::Table::try_from(&keys).ok()?.get(key).cloned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_applies_to_some_algorithm() {
        let all: Vec<String> =
            AlgorithmName::ALL.into_iter().chain(AlgorithmName::METHODS).flat_map(applicable).collect();
        for key in super::super::keys::fields_of::<AlgorithmKeys>() {
            assert!(*key == "name" || all.iter().any(|k| k == key), "[algorithm] {key} applies to no algorithm");
        }
    }

    #[test]
    fn keys_round_trip_every_algorithm() {
        for name in AlgorithmName::ALL.into_iter().chain(AlgorithmName::METHODS) {
            for preset in [Preset::Default, Preset::Paper] {
                let config = AlgorithmConfig::preset(name, preset);
                let (again, foreign) = resolve_keys(name, preset, &keys_of(&config));
                assert_eq!(again, config, "{name}");
                assert!(foreign.is_empty(), "{name}: {foreign:?}");
            }
        }
        assert_eq!(applicable(AlgorithmName::Adam), ["lr"]);
        assert_eq!(applicable(AlgorithmName::Sgd), ["lr", "momentum"]);
    }
}
