//! What tokens cost: a price list per model (USD per million tokens), built-in defaults that
//! `[prices]` in `.godzilla/config.toml` overrides, and [`Cost`], an exact amount that sums
//! without floating-point drift.
//!
//! An engine that reports its own cost (Claude, OpenCode) wins over the list: it knows its
//! discounts, cache writes and tiers, and the list is only an estimate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engines::Usage;

pub use crate::config::Price;

/// The built-in list: public list prices when this table was written, per million tokens.
/// Edit `[prices]` in `.godzilla/config.toml` to change one or add a model; the README's
/// "Cost" section shows this table.
pub const DEFAULTS: &[(&str, Price)] = &[
    ("gpt-5", p(1.25, 0.125, 10.0)),
    ("gpt-5-codex", p(1.25, 0.125, 10.0)),
    ("gpt-5-mini", p(0.25, 0.025, 2.0)),
    ("gpt-5-nano", p(0.05, 0.005, 0.4)),
    ("gpt-4.1", p(2.0, 0.5, 8.0)),
    ("o3", p(2.0, 0.5, 8.0)),
    ("o4-mini", p(1.1, 0.275, 4.4)),
    ("claude-opus-4", p(15.0, 1.5, 75.0)),
    ("claude-sonnet-4", p(3.0, 0.3, 15.0)),
    ("claude-haiku-4", p(1.0, 0.1, 5.0)),
    ("claude-3-5-haiku", p(0.8, 0.08, 4.0)),
    ("gemini-2.5-pro", p(1.25, 0.31, 10.0)),
    ("gemini-2.5-flash", p(0.3, 0.075, 2.5)),
    ("gemini-2.5-flash-lite", p(0.1, 0.025, 0.4)),
];

const fn p(input: f64, cached: f64, output: f64) -> Price {
    Price {
        input,
        cached: Some(cached),
        output,
    }
}

/// An amount of money in micro-dollars: sums are exact, so a total equals the sum of its
/// parts to the cent whatever the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cost(pub i64);

impl Cost {
    /// From US dollars, rounded to the micro-dollar.
    pub fn from_usd(usd: f64) -> Self {
        Self((usd * 1_000_000.0).round() as i64)
    }

    /// In US dollars.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// In cents (fractional).
    pub fn cents(self) -> f64 {
        self.0 as f64 / 10_000.0
    }

    /// `$1.23`; amounts under a cent show four decimals so they do not read as zero.
    pub fn display(self) -> String {
        if self.0 != 0 && self.0.abs() < 10_000 {
            format!("${:.4}", self.usd())
        } else {
            format!("${:.2}", self.usd())
        }
    }
}

impl std::ops::Add for Cost {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

impl Serialize for Cost {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.usd())
    }
}

/// Where a run's cost came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// The engine reported it.
    Engine,
    /// Computed from the price list.
    Prices,
}

/// The price list in force: the defaults overlaid with the configuration's `[prices]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Prices {
    table: BTreeMap<String, Price>,
}

impl Default for Prices {
    fn default() -> Self {
        Self::new(&BTreeMap::new())
    }
}

impl Prices {
    /// The defaults with `overrides` (from `[prices]`) on top.
    pub fn new(overrides: &BTreeMap<String, Price>) -> Self {
        let mut table: BTreeMap<String, Price> = DEFAULTS
            .iter()
            .map(|(name, price)| ((*name).to_owned(), *price))
            .collect();
        table.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        Self { table }
    }

    /// Every model and its price, by name.
    pub fn table(&self) -> &BTreeMap<String, Price> {
        &self.table
    }

    /// The price of `model`: an exact entry, else the longest entry the name starts with
    /// (`claude-sonnet-4-5-20250929` is priced as `claude-sonnet-4`), ignoring a provider
    /// prefix such as `anthropic/`.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        let name = model.rsplit('/').next().unwrap_or(model);
        if let Some(price) = self.table.get(model).or_else(|| self.table.get(name)) {
            return Some(price);
        }
        self.table
            .iter()
            .filter(|(k, _)| name.starts_with(k.as_str()))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, v)| v)
    }

    /// The cost of `usage` on `model`, when the model is priced.
    pub fn cost(&self, model: Option<&str>, usage: &Usage) -> Option<Cost> {
        let price = self.lookup(model?)?;
        let cached = usage.cached.min(usage.input);
        let fresh = usage.input - cached;
        let usd = (fresh as f64 * price.input
            + cached as f64 * price.cached.unwrap_or(price.input)
            + usage.output as f64 * price.output)
            / 1_000_000.0;
        Some(Cost::from_usd(usd))
    }

    /// The engine's own figure when it gave one, else the price list's; with its source.
    pub fn settle(
        &self,
        model: Option<&str>,
        usage: &Usage,
        reported_usd: Option<f64>,
    ) -> Option<(Cost, CostSource)> {
        match reported_usd {
            Some(usd) if usd.is_finite() && usd >= 0.0 => {
                Some((Cost::from_usd(usd), CostSource::Engine))
            }
            _ => self.cost(model, usage).map(|c| (c, CostSource::Prices)),
        }
    }
}

/// The cost a protocol's event log records (exec attempts and any phase with a figure).
pub fn cost_of_events(log: &[crate::domain::Event]) -> Cost {
    let mut seen = std::collections::BTreeSet::new();
    log.iter()
        .filter(|e| seen.insert(e.id.clone()))
        .filter_map(|e| e.metadata.get("cost_usd").and_then(|v| v.as_f64()))
        .map(Cost::from_usd)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_prices_lookup_prefers_exact_then_longest_prefix() {
        let prices = Prices::default();
        assert_eq!(prices.lookup("gpt-5-mini").unwrap().output, 2.0);
        assert_eq!(prices.lookup("gpt-5-codex").unwrap().output, 10.0);
        assert_eq!(
            prices.lookup("claude-sonnet-4-5-20250929").unwrap().input,
            3.0
        );
        assert_eq!(
            prices.lookup("google/gemini-2.5-flash-lite").unwrap().input,
            0.1
        );
        assert!(prices.lookup("mystery").is_none());
    }

    #[test]
    fn test_prices_config_overrides_and_engine_wins() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "house".to_owned(),
            Price {
                input: 2.0,
                cached: None,
                output: 4.0,
            },
        );
        let prices = Prices::new(&overrides);
        let usage = Usage {
            input: 1_000_000,
            cached: 500_000,
            output: 250_000,
            reasoning: 0,
        };
        // Cached input is charged at the input price when the entry has no cached price.
        assert_eq!(
            prices.cost(Some("house"), &usage),
            Some(Cost::from_usd(3.0))
        );
        assert_eq!(
            prices.settle(Some("house"), &usage, Some(0.5)),
            Some((Cost::from_usd(0.5), CostSource::Engine))
        );
        assert_eq!(prices.settle(None, &usage, None), None);
        let gpt = prices.cost(Some("gpt-5"), &usage).unwrap();
        // 0.5M fresh × 1.25 + 0.5M cached × 0.125 + 0.25M × 10.
        assert_eq!(gpt, Cost::from_usd(0.625 + 0.0625 + 2.5));
    }

    #[test]
    fn test_cost_sums_exactly_and_displays_cents() {
        let parts = [0.1, 0.2, 0.3].map(Cost::from_usd);
        assert_eq!(parts.iter().copied().sum::<Cost>(), Cost::from_usd(0.6));
        assert_eq!(Cost::from_usd(1.234).display(), "$1.23");
        assert_eq!(Cost::from_usd(0.0012).display(), "$0.0012");
        assert_eq!(Cost::default().display(), "$0.00");
    }
}
