//! PCI addresses in the `DDDD:BB:DD.F` form sysfs and VFIO use.

use std::fmt;
use std::str::FromStr;

/// A PCI function address: domain, bus, device (slot) and function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddr {
    /// PCI domain (segment); 0 on most machines.
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0 to 0x1f.
    pub device: u8,
    /// Function number, 0 to 7.
    pub function: u8,
}

/// Why a string is not a PCI address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a PCI address: {reason} (expected DDDD:BB:DD.F, e.g. 0000:00:03.0)")]
pub struct PciAddrError {
    /// The string, as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for PciAddr {
    type Err = PciAddrError;

    /// Accepts `DDDD:BB:DD.F` and the short `BB:DD.F` (domain 0), hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PciAddrError {
            input: s.to_string(),
            reason,
        };
        let (head, function) = s
            .rsplit_once('.')
            .ok_or_else(|| err("no `.F` function part"))?;
        let parts: Vec<&str> = head.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [d, b, dev] => (*d, *b, *dev),
            [b, dev] => ("0", *b, *dev),
            _ => return Err(err("wrong number of `:`-separated parts")),
        };
        let hex = |t: &str, max_len: usize, what| {
            if t.is_empty() || t.len() > max_len || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err(what));
            }
            u32::from_str_radix(t, 16).map_err(|_| err(what))
        };
        let domain = hex(domain, 4, "bad domain (up to 4 hex digits)")? as u16;
        let bus = hex(bus, 2, "bad bus (up to 2 hex digits)")? as u8;
        let device = hex(device, 2, "bad device (up to 2 hex digits)")?;
        if device > 0x1f {
            return Err(err("device number above 1f"));
        }
        let function = hex(function, 1, "bad function (one digit 0-7)")?;
        if function > 7 {
            return Err(err("function above 7"));
        }
        Ok(PciAddr {
            domain,
            bus,
            device: device as u8,
            function: function as u8,
        })
    }
}

impl fmt::Display for PciAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_short_forms() {
        let a: PciAddr = "0000:00:03.0".parse().unwrap();
        assert_eq!(
            a,
            PciAddr {
                domain: 0,
                bus: 0,
                device: 3,
                function: 0
            }
        );
        assert_eq!(a.to_string(), "0000:00:03.0");
        let b: PciAddr = "af:1f.7".parse().unwrap();
        assert_eq!(b.to_string(), "0000:af:1f.7");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "0000:00:03",
            "0000:00:20.0",
            "0000:00:03.8",
            "x:00:03.0",
            "00000:00:03.0",
        ] {
            assert!(bad.parse::<PciAddr>().is_err(), "{bad} accepted");
        }
    }
}
