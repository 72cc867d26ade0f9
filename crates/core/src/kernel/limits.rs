//! What reaching a limit does: alert (the default) or block.

use serde::{Deserialize, Serialize};

/// A limit's mode: `alert` tells (an alert, a `warn` from the guard); `block` also makes the
/// guard deny what would cross it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitMode {
    #[default]
    Alert,
    Block,
}

impl<'de> Deserialize<'de> for LimitMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::DeserializeSeed;
        crate::kernel::object::Variant {
            variants: &[("alert", LimitMode::Alert), ("block", LimitMode::Block)],
            expecting: "enum LimitMode",
        }
        .deserialize(deserializer)
    }
}

impl LimitMode {
    /// `alert` or `block`; anything else is refused with the accepted words.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "alert" => Ok(LimitMode::Alert),
            "block" => Ok(LimitMode::Block),
            _ => Err("must be \"alert\" or \"block\"".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LimitMode::Alert => "alert",
            LimitMode::Block => "block",
        }
    }

    pub fn is_alert(&self) -> bool {
        *self == LimitMode::Alert
    }
}

#[cfg(test)]
mod tests {
    use super::LimitMode;

    #[test]
    fn a_mode_is_alert_or_block_and_alert_by_default() {
        assert_eq!(LimitMode::default(), LimitMode::Alert);
        assert_eq!(LimitMode::parse("block"), Ok(LimitMode::Block));
        assert!(LimitMode::parse("Block").is_err());
        assert_eq!(LimitMode::Block.as_str(), "block");
    }

    #[test]
    fn a_mode_reads_back_as_it_is_written() {
        for mode in [LimitMode::Alert, LimitMode::Block] {
            let text = serde_json::to_string(&mode).unwrap();
            assert_eq!(serde_json::from_str::<LimitMode>(&text).unwrap(), mode);
            assert_eq!(text, format!("\"{}\"", mode.as_str()));
        }
    }
}
