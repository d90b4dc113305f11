//! Port names in netmap's grammar (libnetmap's `nmport_parse`), plus our own
//! `vfio:` and `model:` prefixes.
//!
//! ```text
//! prefix ":" name [mode] [/flags | @memid]* [@option]*
//! ```
//!
//! * prefix: `netmap`, `vale[ident]` (e.g. `vale0`), `vfio` (the name is a PCI
//!   address, `DDDD:BB:DD.F` or `BB:DD.F`) or `model` (software NIC models).
//! * name: letters, digits and `_`; with `netmap`/`vale`, `name{id` is the
//!   master end of a pipe and `name}id` the slave end.
//! * mode, at most one, right after the name: `-N` (NIC ring pair N), `^`
//!   (host rings), `^N` (host ring N), `*` (NIC and host rings); by default
//!   all NIC rings.
//! * any mix of `/flags` (`x` exclusive, `z` zero-copy monitor, `t` monitor
//!   tx, `r` monitor rx, `R` rx rings only, `T` tx rings only) and `@N`
//!   (memory region id, N > 0; giving two different ids is an error).
//! * options: `@name`, `@name=value` or `@name:key=value,key=value`. A value
//!   runs to the next `@` (or, in a `key=value` list, to the next `,` or `@`),
//!   so it may contain `:`, `{`, `=`… but never `@`. Each option name may be
//!   given once, and each key once per option (netmap rejects duplicated
//!   options too).
//!
//! [`parse`] (and [`FromStr`]) require the prefix, like libnetmap;
//! [`parse_lenient`] prepends `netmap:` to a bare name, like pkt-gen.
//! [`PortName`]'s [`Display`](fmt::Display) prints the canonical form, which
//! parses back to the same value.

use std::fmt;
use std::str::FromStr;

use crate::api::PipeEnd;
use crate::driver::PciAddr;

/// A parsed port name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortName {
    /// What the prefix and name designate.
    pub kind: PortKind,
    /// Which rings to bind, from the mode suffix.
    pub mode: RegMode,
    /// Flags from the `/flags` groups.
    pub flags: RegFlags,
    /// Memory region id from `@N` (never `Some(0)` when parsed).
    pub mem_id: Option<u16>,
    /// `@option`s in input order; option names are distinct.
    pub options: Vec<PortOption>,
}

/// What the prefix and name designate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    /// `netmap:NAME`.
    Netmap {
        /// The interface name.
        name: String,
    },
    /// `PREFIX:NAME{ID` (master) or `PREFIX:NAME}ID` (slave); `prefix` is
    /// `netmap` or the VALE switch (`vale`, `vale0`, …).
    Pipe {
        /// `netmap` or the VALE switch the pipe belongs to.
        prefix: String,
        /// The name before `{` or `}`.
        name: String,
        /// The pipe id after `{` or `}`.
        id: String,
        /// Master (`{`) or slave (`}`).
        end: PipeEnd,
    },
    /// `SWITCH:PORT` where `switch` is `vale` followed by identifier
    /// characters, e.g. `vale0`.
    Vale {
        /// The switch, e.g. `vale0`.
        switch: String,
        /// The port's name on the switch.
        port: String,
    },
    /// `vfio:DDDD:BB:DD.F` (or the short `vfio:BB:DD.F`).
    Vfio {
        /// The NIC's PCI address.
        addr: PciAddr,
    },
    /// `model:NAME`, a software NIC model.
    Model {
        /// Which software NIC model.
        name: String,
    },
}

/// Which rings a registration binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RegMode {
    /// No mode suffix: all NIC rings.
    #[default]
    AllNic,
    /// `-N`: NIC ring pair N.
    OneNic(u16),
    /// `^`: all host rings.
    AllHost,
    /// `^N`: host ring N.
    OneHost(u16),
    /// `*`: NIC and host rings.
    NicAndHost,
}

/// Flags from `/flags` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RegFlags {
    /// `x`
    pub exclusive: bool,
    /// `z`
    pub zcopy_monitor: bool,
    /// `t`
    pub monitor_tx: bool,
    /// `r`
    pub monitor_rx: bool,
    /// `R`
    pub rx_rings_only: bool,
    /// `T`
    pub tx_rings_only: bool,
}

/// One `@option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortOption {
    /// The option's name, after `@`.
    pub name: String,
    /// Its value, if any.
    pub value: OptionValue,
}

/// The value part of an `@option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// `@name`
    None,
    /// `@name=value`
    Value(String),
    /// `@name:key=value,key=value` (keys distinct, in input order).
    Map(Vec<(String, String)>),
}

/// Why a string is not a port name: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct NameError {
    /// The input as given (for [`parse_bytes`], with invalid UTF-8 replaced
    /// by U+FFFD; the valid prefix keeps its byte offsets).
    pub input: String,
    /// Byte offset of the offending character, or `input.len()` at the end.
    pub position: usize,
    /// What would have been accepted there, with a hint where useful.
    pub expected: String,
}

const PREFIXES: &str = "`netmap:`, `vale[ident]:`, `vfio:` or `model:`";
const AFTER_NAME: &str = "`-N`, `^`, `*`, `/flags`, `@N` or `@option`";
const AFTER_MODE: &str = "`/flags`, `@N`, `@option` or end of name";
const FLAG_LETTERS: &str = "`x` (exclusive), `z` (zero-copy monitor), `t` (monitor tx), \
                            `r` (monitor rx), `R` (rx rings only) or `T` (tx rings only)";
const PCI_FORM: &str = "a PCI address `DDDD:BB:DD.F` or `BB:DD.F` (e.g. `vfio:0000:00:03.0`)";
const NETMAP: &str = "netmap:";

/// Parses a port name; the prefix is required.
pub fn parse(s: &str) -> Result<PortName, NameError> {
    Parser {
        s,
        b: s.as_bytes(),
        pos: 0,
    }
    .port_name()
}

/// Like [`parse`], but a bare name (no `:` before the first of
/// `{ } - * ^ / @`) gets `netmap:` prepended, as pkt-gen does. Error
/// positions refer to `s` as given.
pub fn parse_lenient(s: &str) -> Result<PortName, NameError> {
    if has_prefix(s) {
        return parse(s);
    }
    let full = format!("{NETMAP}{s}");
    parse(&full).map_err(|e| NameError {
        input: s.to_string(),
        position: e.position.saturating_sub(NETMAP.len()),
        expected: e.expected,
    })
}

/// Parses a port name given as bytes; invalid UTF-8 is an error at the first
/// bad byte.
pub fn parse_bytes(b: &[u8]) -> Result<PortName, NameError> {
    match std::str::from_utf8(b) {
        Ok(s) => parse(s),
        Err(e) => Err(NameError {
            input: String::from_utf8_lossy(b).into_owned(),
            position: e.valid_up_to(),
            expected: "valid UTF-8 (port names are ASCII, except option values)".to_string(),
        }),
    }
}

/// Whether `s` has a `:` before the first of `{ } - * ^ / @`.
fn has_prefix(s: &str) -> bool {
    let end = s
        .find(['{', '}', '-', '*', '^', '/', '@'])
        .unwrap_or(s.len());
    s[..end].contains(':')
}

impl FromStr for PortName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl PortName {
    /// The `@name…` option with this name, if given.
    pub fn option(&self, name: &str) -> Option<&PortOption> {
        self.options.iter().find(|o| o.name == name)
    }

    /// The value of `key` in the `@conf:key=value,…` option, if given.
    pub fn conf(&self, key: &str) -> Option<&str> {
        match &self.option("conf")?.value {
            OptionValue::Map(entries) => entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_opt_ident(c: u8) -> bool {
    is_ident(c) || c == b'-'
}

fn ends_name(c: u8) -> bool {
    matches!(c, b'-' | b'*' | b'^' | b'/' | b'@')
}

/// Which prefix was given.
enum Prefix<'a> {
    Netmap,
    Vale(&'a str),
    Vfio,
    Model,
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn err(&self, position: usize, expected: impl Into<String>) -> NameError {
        NameError {
            input: self.s.to_string(),
            position,
            expected: expected.into(),
        }
    }

    /// Advances over bytes matching `f`. `f` must reject every byte of a
    /// multi-byte character or accept all of them (true for ASCII classes
    /// and for "anything but these ASCII bytes"), so the slice is on char
    /// boundaries.
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// Decimal digits (at least one, checked by the caller) as a `u16`.
    fn number(&mut self, what: &str) -> Result<u16, NameError> {
        let start = self.pos;
        let digits = self.take_while(|c| c.is_ascii_digit());
        digits
            .parse()
            .map_err(|_| self.err(start, format!("{what} from 0 to 65535")))
    }

    fn port_name(mut self) -> Result<PortName, NameError> {
        let prefix = self.prefix()?;
        let kind = self.kind(prefix)?;
        let mode = self.mode()?;
        let mut name = PortName {
            kind,
            mode,
            flags: RegFlags::default(),
            mem_id: None,
            options: Vec::new(),
        };
        while let Some(c) = self.peek() {
            match c {
                b'/' => self.flags(&mut name.flags)?,
                b'@' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c.is_ascii_digit() => self.mem_id(&mut name.mem_id)?,
                        Some(c) if c.is_ascii_alphabetic() => {
                            let option = self.option(&name.options)?;
                            name.options.push(option);
                        }
                        _ => {
                            return Err(self.err(
                                self.pos,
                                "a memory region id `@N` (N > 0) or an option `@name`, \
                                 `@name=value` or `@name:key=value,...` (option names start \
                                 with a letter)",
                            ));
                        }
                    }
                }
                b'-' | b'^' | b'*' => {
                    return Err(self.err(
                        self.pos,
                        format!(
                            "{AFTER_MODE} (only one of `-N`, `^`, `*` is allowed, right after \
                             the name)"
                        ),
                    ));
                }
                _ => return Err(self.err(self.pos, AFTER_MODE)),
            }
        }
        Ok(name)
    }

    fn prefix(&mut self) -> Result<Prefix<'a>, NameError> {
        let word = self.take_while(is_ident);
        if self.peek() != Some(b':') {
            if !has_prefix(self.s) {
                return Err(self.err(
                    0,
                    format!(
                        "a prefix ({PREFIXES}) before the port name; prefix the name with \
                         `netmap:` (or `vfio:` for a NIC)"
                    ),
                ));
            }
            return Err(self.err(
                self.pos,
                format!("letters, digits or `_` in the prefix, then `:` (prefixes: {PREFIXES})"),
            ));
        }
        let prefix = match word {
            "netmap" => Prefix::Netmap,
            "vfio" => Prefix::Vfio,
            "model" => Prefix::Model,
            w if w.starts_with("vale") => Prefix::Vale(w),
            "" => return Err(self.err(0, format!("a prefix before `:`: {PREFIXES}"))),
            w => {
                return Err(self.err(
                    0,
                    format!("a prefix {PREFIXES} (`{w}` is not a known prefix)"),
                ));
            }
        };
        self.pos += 1;
        Ok(prefix)
    }

    fn kind(&mut self, prefix: Prefix<'a>) -> Result<PortKind, NameError> {
        match prefix {
            Prefix::Vfio => self.vfio(),
            Prefix::Model => {
                let name = self.ident_name("model ports have no pipes")?;
                Ok(PortKind::Model {
                    name: name.to_string(),
                })
            }
            Prefix::Netmap | Prefix::Vale(_) => {
                let pipe_prefix = match prefix {
                    Prefix::Vale(v) => v,
                    _ => "netmap",
                };
                let name_start = self.pos;
                let name = self.take_while(is_ident);
                let end = match self.peek() {
                    Some(b'{') => PipeEnd::Master,
                    Some(b'}') => PipeEnd::Slave,
                    _ => {
                        self.pos = name_start;
                        let name = self.ident_name("")?.to_string();
                        return Ok(match prefix {
                            Prefix::Vale(switch) => PortKind::Vale {
                                switch: switch.to_string(),
                                port: name,
                            },
                            _ => PortKind::Netmap { name },
                        });
                    }
                };
                if name.is_empty() {
                    return Err(self.err(
                        name_start,
                        "a port name (letters, digits, `_`) before the pipe's `{` or `}`, \
                         e.g. `netmap:p{0`",
                    ));
                }
                self.pos += 1;
                let id_start = self.pos;
                let id = self.take_while(is_ident);
                if id.is_empty() {
                    return Err(self.err(
                        id_start,
                        "a pipe id (letters, digits, `_`) after `{` or `}`, e.g. `netmap:p{0`",
                    ));
                }
                match self.peek() {
                    None => {}
                    Some(c) if ends_name(c) => {}
                    Some(b'{' | b'}') => {
                        return Err(self.err(
                            self.pos,
                            format!(
                                "end of name, {AFTER_NAME} (a pipe name has only one of `{{` `}}`)"
                            ),
                        ));
                    }
                    Some(_) => {
                        return Err(self.err(
                            self.pos,
                            format!(
                                "letters, digits or `_` in the pipe id, or end of name, \
                                 {AFTER_NAME}"
                            ),
                        ));
                    }
                }
                Ok(PortKind::Pipe {
                    prefix: pipe_prefix.to_string(),
                    name: name.to_string(),
                    id: id.to_string(),
                    end,
                })
            }
        }
    }

    /// A non-empty identifier ending at the end or a mode/flag/option
    /// character. `no_pipes` (if non-empty) explains why `{`/`}` is wrong.
    fn ident_name(&mut self, no_pipes: &str) -> Result<&'a str, NameError> {
        let start = self.pos;
        let name = self.take_while(is_ident);
        match self.peek() {
            _ if name.is_empty() => Err(self.err(start, "a port name (letters, digits, `_`)")),
            None => Ok(name),
            Some(c) if ends_name(c) => Ok(name),
            Some(b'{' | b'}') if !no_pipes.is_empty() => {
                Err(self.err(self.pos, format!("end of name, {AFTER_NAME} ({no_pipes})")))
            }
            Some(_) => Err(self.err(
                self.pos,
                format!(
                    "letters, digits, `_`, `{{ID` or `}}ID` (pipe), or end of name, {AFTER_NAME}"
                ),
            )),
        }
    }

    fn vfio(&mut self) -> Result<PortKind, NameError> {
        let start = self.pos;
        let text = self.take_while(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        if text.is_empty() {
            return Err(self.err(start, PCI_FORM));
        }
        let addr = text
            .parse::<PciAddr>()
            .map_err(|e| self.err(start, format!("{PCI_FORM}; here: {}", e.reason)))?;
        match self.peek() {
            None => {}
            Some(c) if ends_name(c) => {}
            Some(b'{' | b'}') => {
                return Err(self.err(
                    self.pos,
                    format!(
                        "end of the PCI address, {AFTER_NAME} (vfio ports have no pipes; a \
                         pipe is `netmap:NAME{{ID`)"
                    ),
                ));
            }
            Some(_) => {
                return Err(self.err(
                    self.pos,
                    format!(
                        "hex digits, `:` or `.` in the PCI address, or end of name, {AFTER_NAME}"
                    ),
                ));
            }
        }
        Ok(PortKind::Vfio { addr })
    }

    fn mode(&mut self) -> Result<RegMode, NameError> {
        Ok(match self.peek() {
            Some(b'^') => {
                self.pos += 1;
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    RegMode::OneHost(self.number("a host ring number")?)
                } else {
                    RegMode::AllHost
                }
            }
            Some(b'*') => {
                self.pos += 1;
                RegMode::NicAndHost
            }
            Some(b'-') => {
                self.pos += 1;
                if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.err(
                        self.pos,
                        "a ring number after `-` (e.g. `netmap:em0-0` binds NIC ring pair 0)",
                    ));
                }
                RegMode::OneNic(self.number("a ring number")?)
            }
            _ => RegMode::AllNic,
        })
    }

    fn flags(&mut self, flags: &mut RegFlags) -> Result<(), NameError> {
        self.pos += 1; // '/'
        let start = self.pos;
        while let Some(c) = self.peek() {
            let flag = match c {
                b'x' => &mut flags.exclusive,
                b'z' => &mut flags.zcopy_monitor,
                b't' => &mut flags.monitor_tx,
                b'r' => &mut flags.monitor_rx,
                b'R' => &mut flags.rx_rings_only,
                b'T' => &mut flags.tx_rings_only,
                c if c.is_ascii_alphabetic() => {
                    return Err(self.err(self.pos, format!("a flag letter: {FLAG_LETTERS}")));
                }
                _ => break,
            };
            *flag = true;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(start, format!("flag letters after `/`: {FLAG_LETTERS}")));
        }
        Ok(())
    }

    fn mem_id(&mut self, mem_id: &mut Option<u16>) -> Result<(), NameError> {
        let start = self.pos;
        let id = self.number("a memory region id")?;
        if id == 0 {
            return Err(self.err(start, "a memory region id above 0 (`@1`, `@2`, ...)"));
        }
        match *mem_id {
            Some(old) if old != id => Err(self.err(
                start,
                format!(
                    "the same memory region id as before (`@{old}`): a port has one memory region"
                ),
            )),
            _ => {
                *mem_id = Some(id);
                Ok(())
            }
        }
    }

    /// `name`, `name=value` or `name:key=value,...`; `self.pos` is on the
    /// name's first letter.
    fn option(&mut self, seen: &[PortOption]) -> Result<PortOption, NameError> {
        let name_start = self.pos;
        let name = self.take_while(is_opt_ident);
        if seen.iter().any(|o| o.name == name) {
            return Err(self.err(
                name_start,
                format!("an option other than `@{name}`, which is already given (each option at most once)"),
            ));
        }
        let value = match self.peek() {
            None | Some(b'@') => OptionValue::None,
            Some(b'=') => {
                self.pos += 1;
                let start = self.pos;
                let value = self.take_while(|c| c != b'@');
                if value.is_empty() {
                    return Err(self.err(
                        start,
                        format!("a value after `@{name}=` (e.g. `@share=netmap:other`)"),
                    ));
                }
                OptionValue::Value(value.to_string())
            }
            Some(b':') => {
                self.pos += 1;
                OptionValue::Map(self.option_map(name)?)
            }
            Some(_) => {
                return Err(self.err(
                    self.pos,
                    "letters, digits, `_` or `-` in the option name, then `=value`, \
                     `:key=value,...`, another `@` or end of name",
                ));
            }
        };
        Ok(PortOption {
            name: name.to_string(),
            value,
        })
    }

    fn option_map(&mut self, name: &str) -> Result<Vec<(String, String)>, NameError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        loop {
            let key_start = self.pos;
            let key = self.take_while(is_opt_ident);
            if key.is_empty() {
                return Err(self.err(
                    key_start,
                    format!("a key (letters, digits, `_`, `-`) in `@{name}:key=value,...`"),
                ));
            }
            if entries.iter().any(|(k, _)| k == key) {
                return Err(self.err(
                    key_start,
                    format!("a key other than `{key}`, which is already given in `@{name}:`"),
                ));
            }
            if self.peek() != Some(b'=') {
                return Err(self.err(
                    self.pos,
                    format!("`=value` after key `{key}` (options look like `@{name}:key=value,key=value`)"),
                ));
            }
            self.pos += 1;
            let value_start = self.pos;
            let value = self.take_while(|c| c != b',' && c != b'@');
            if value.is_empty() {
                return Err(self.err(value_start, format!("a value after `{key}=`")));
            }
            entries.push((key.to_string(), value.to_string()));
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                return Ok(entries);
            }
        }
    }
}

impl fmt::Display for PortKind {
    /// `prefix:name`, e.g. `netmap:p{0` or `vfio:0000:00:03.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortKind::Netmap { name } => write!(f, "netmap:{name}"),
            PortKind::Pipe {
                prefix,
                name,
                id,
                end,
            } => {
                let brace = if *end == PipeEnd::Master { '{' } else { '}' };
                write!(f, "{prefix}:{name}{brace}{id}")
            }
            PortKind::Vale { switch, port } => write!(f, "{switch}:{port}"),
            PortKind::Vfio { addr } => write!(f, "vfio:{addr}"),
            PortKind::Model { name } => write!(f, "model:{name}"),
        }
    }
}

impl fmt::Display for RegMode {
    /// The suffix: empty, `-N`, `^`, `^N` or `*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegMode::AllNic => Ok(()),
            RegMode::OneNic(n) => write!(f, "-{n}"),
            RegMode::AllHost => f.write_str("^"),
            RegMode::OneHost(n) => write!(f, "^{n}"),
            RegMode::NicAndHost => f.write_str("*"),
        }
    }
}

impl fmt::Display for RegFlags {
    /// Empty, or `/` and the set letters in the order `xztrRT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters = [
            (self.exclusive, 'x'),
            (self.zcopy_monitor, 'z'),
            (self.monitor_tx, 't'),
            (self.monitor_rx, 'r'),
            (self.rx_rings_only, 'R'),
            (self.tx_rings_only, 'T'),
        ];
        if letters.iter().any(|(set, _)| *set) {
            f.write_str("/")?;
            for (_, c) in letters.iter().filter(|(set, _)| *set) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for PortOption {
    /// `@name`, `@name=value` or `@name:key=value,...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.name)?;
        match &self.value {
            OptionValue::None => Ok(()),
            OptionValue::Value(v) => write!(f, "={v}"),
            OptionValue::Map(entries) => {
                for (i, (k, v)) in entries.iter().enumerate() {
                    write!(f, "{}{k}={v}", if i == 0 { ':' } else { ',' })?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for PortName {
    /// The canonical form: `prefix:name`, mode, flags, `@memid`, options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.kind, self.mode, self.flags)?;
        if let Some(id) = self.mem_id {
            write!(f, "@{id}")?;
        }
        for option in &self.options {
            write!(f, "{option}")?;
        }
        Ok(())
    }
}

/// `s` with control characters escaped, so the caret line lines up.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pos = self.position.min(self.input.len());
        while !self.input.is_char_boundary(pos) {
            pos -= 1;
        }
        let input = printable(&self.input);
        let at = match self.input[pos..].chars().next() {
            Some(c) => format!("(`{}`)", printable(c.encode_utf8(&mut [0; 4]))),
            None => "(end of input)".to_string(),
        };
        let column = printable(&self.input[..pos]).chars().count();
        write!(
            f,
            "bad port name `{input}`: at byte {} {at}: expected {}\n    {input}\n    {}^",
            self.position,
            self.expected,
            " ".repeat(column)
        )
    }
}
