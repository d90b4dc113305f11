//! The options in a port name (`@conf:key=value,…`, `@option`), checked
//! against what the port's kind accepts: an unknown or misplaced option is
//! an error naming the valid ones, never silently ignored.

use std::time::Duration;

use super::error::PortError;
use super::name::{OptionValue, PortName};

/// What one kind of port accepts in its name.
pub(super) struct Accepts {
    /// The kind, as error messages name it ("a pipe", "a VFIO NIC").
    pub kind: &'static str,
    /// `@name` options besides `@conf`.
    pub options: &'static [&'static str],
    /// Keys of `@conf:`.
    pub conf: &'static [&'static str],
}

/// A port name's options, checked against [`Accepts`].
pub(super) struct Conf<'a> {
    port: &'a str,
    parsed: &'a PortName,
}

impl<'a> Conf<'a> {
    /// Checks every option and `@conf:` key of `parsed` against `accepts`.
    pub fn check(
        port: &'a str,
        parsed: &'a PortName,
        accepts: &Accepts,
    ) -> Result<Conf<'a>, PortError> {
        let bad = |message: String| PortError::BadOption {
            port: port.to_string(),
            message,
        };
        for option in &parsed.options {
            if option.name == "conf" {
                let OptionValue::Map(entries) = &option.value else {
                    return Err(bad(
                        "`@conf` takes keys: `@conf:key=value,key=value`".to_string()
                    ));
                };
                for (key, _) in entries {
                    if !accepts.conf.contains(&key.as_str()) {
                        return Err(bad(format!(
                            "unknown key `{key}` in `@conf:` for {}{}; valid keys: {}",
                            accepts.kind,
                            did_you_mean(key, accepts.conf),
                            list(accepts.conf)
                        )));
                    }
                }
            } else if !accepts.options.contains(&option.name.as_str()) {
                let valid: Vec<&str> = std::iter::once("conf")
                    .chain(accepts.options.iter().copied())
                    .collect();
                return Err(bad(format!(
                    "unknown option `@{}` for {}{}; valid options: {}",
                    option.name,
                    accepts.kind,
                    did_you_mean(&option.name, &valid),
                    list(&valid)
                )));
            }
        }
        Ok(Conf { port, parsed })
    }

    /// The number in `@conf:KEY=N`, if given.
    pub fn number(&self, key: &str) -> Result<Option<u32>, PortError> {
        self.parsed
            .conf(key)
            .map(|v| {
                v.parse::<u32>().map_err(|_| PortError::BadOption {
                    port: self.port.to_string(),
                    message: format!("`@conf:{key}={v}`: expected a number (0 to {})", u32::MAX),
                })
            })
            .transpose()
    }

    /// The duration in `@conf:KEY=SECS`, if given: any number of seconds,
    /// one beyond `u64::MAX` taken as `u64::MAX` (for a wait: until
    /// cancelled), never an overflow.
    pub fn seconds(&self, key: &str) -> Result<Option<Duration>, PortError> {
        self.parsed
            .conf(key)
            .map(|v| {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PortError::BadOption {
                        port: self.port.to_string(),
                        message: format!("`@conf:{key}={v}`: expected a number of seconds"),
                    });
                }
                Ok(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)))
            })
            .transpose()
    }

    /// The text in `@conf:KEY=TEXT`, if given.
    #[cfg_attr(not(feature = "models"), allow(dead_code))]
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.parsed.conf(key)
    }

    /// Whether `@OPTION` was given.
    pub fn has(&self, option: &str) -> bool {
        self.parsed.option(option).is_some()
    }
}

/// `a`, `b` or `c` as a list of code spans.
fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// " (did you mean `x`?)" for the closest valid word within two edits.
fn did_you_mean(word: &str, valid: &[&str]) -> String {
    valid
        .iter()
        .map(|v| (edit_distance(word, v), v))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, v)| format!(" (did you mean `{v}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_suggested_and_far_ones_not() {
        assert_eq!(edit_distance("slotz", "slots"), 1);
        assert_eq!(edit_distance("", "bufs"), 4);
        let keys = ["slots", "bufs", "extra-bufs"];
        assert_eq!(did_you_mean("slotz", &keys), " (did you mean `slots`?)");
        assert_eq!(did_you_mean("buf", &keys), " (did you mean `bufs`?)");
        assert_eq!(did_you_mean("promisc", &keys), "");
    }
}
