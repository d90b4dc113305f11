//! Turning what a C program put in a request (`nr_name`, `nr_mode`,
//! `nr_ringid`, `nr_flags`, `nr_mem_id`, ring and slot counts) back into
//! one of our port names for `vfio_netmap::ports::open`.

use vfio_netmap::abi::ctrl::{flags, mode, ringid};

use crate::error::PreloadError;

/// The fields of a registration, from either API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// `nr_name`, up to its NUL.
    pub name: String,
    /// `NR_REG_*`.
    pub mode: u32,
    /// Ring number (`NETMAP_RING_MASK` bits).
    pub ring: u16,
    /// `NR_*` flags.
    pub flags: u64,
    /// Memory region id, 0 for none.
    pub mem_id: u16,
    /// Slots asked for (0: the port's default).
    pub slots: u32,
    /// Ring pairs asked for (0: the port's default).
    pub rings: u16,
    /// Extra buffers asked for.
    pub extra_bufs: u32,
}

/// `nr_name` as a string: the bytes up to the first NUL, or all of them
/// (the field may lack one); empty or non-UTF-8 names are errors.
pub fn c_name(field: &[u8]) -> Result<String, PreloadError> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let bytes = &field[..end];
    let lossy = || String::from_utf8_lossy(bytes).into_owned();
    if bytes.is_empty() {
        return Err(PreloadError::Name(
            lossy(),
            "empty: put the port's name in nr_name, e.g. `p{0` or `vfio:0000:03:00.0`",
        ));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Err(PreloadError::Name(
            lossy(),
            "not UTF-8: port names are ASCII",
        )),
    }
}

/// The legacy registration mode: `nr_flags & NR_REG_MASK`, or for
/// `NR_REG_DEFAULT` the mode `nr_ringid`'s `NETMAP_HW_RING` /
/// `NETMAP_SW_RING` bits say.
pub fn legacy_mode(nr_flags: u32, nr_ringid: u16) -> u32 {
    match nr_flags & mode::MASK {
        mode::DEFAULT if nr_ringid & ringid::HW_RING != 0 => mode::ONE_NIC,
        mode::DEFAULT if nr_ringid & ringid::SW_RING != 0 => mode::SW,
        mode::DEFAULT => mode::ALL_NIC,
        m => m,
    }
}

/// The port name a registration asks for. `assigned(id)` says whether a
/// memory id is one this process handed out for a region without `@N`
/// (given back, it means "the same memory", which the port's own name
/// already gives); any other id becomes `@N`.
pub fn port_name(r: &Registration, assigned: impl Fn(u16) -> bool) -> Result<String, PreloadError> {
    let mut name = if r.name.contains(':') {
        r.name.clone()
    } else {
        format!("netmap:{}", r.name)
    };
    let is_pipe_name = r.name.contains(['{', '}']);
    match r.mode {
        mode::DEFAULT | mode::ALL_NIC => {}
        mode::ONE_NIC => name += &format!("-{}", r.ring),
        mode::SW => name += "^",
        mode::ONE_SW => name += &format!("^{}", r.ring),
        mode::NIC_SW => name += "*",
        mode::PIPE_MASTER | mode::PIPE_SLAVE if is_pipe_name => {
            return Err(PreloadError::PipeTwice(r.name.clone()));
        }
        mode::PIPE_MASTER => name += &format!("{{{}", r.ring),
        mode::PIPE_SLAVE => name += &format!("}}{}", r.ring),
        m => return Err(PreloadError::Mode(m)),
    }
    let letters: String = [
        (flags::NR_EXCLUSIVE, 'x'),
        (flags::NR_ZCOPY_MON, 'z'),
        (flags::NR_MONITOR_TX, 't'),
        (flags::NR_MONITOR_RX, 'r'),
        (flags::NR_RX_RINGS_ONLY, 'R'),
        (flags::NR_TX_RINGS_ONLY, 'T'),
    ]
    .iter()
    .filter(|(bit, _)| r.flags & bit != 0)
    .map(|&(_, c)| c)
    .collect();
    if !letters.is_empty() {
        name += "/";
        name += &letters;
    }
    if r.mem_id != 0 && !assigned(r.mem_id) {
        name += &format!("@{}", r.mem_id);
    }
    let pipe = is_pipe_name || matches!(r.mode, mode::PIPE_MASTER | mode::PIPE_SLAVE);
    let nic = name.starts_with("vfio:") || name.starts_with("model:");
    let mut conf = Vec::new();
    if r.slots > 0 {
        conf.push(format!("slots={}", r.slots));
    }
    if r.rings > 0 && nic {
        conf.push(format!("rings={}", r.rings));
    }
    if r.extra_bufs > 0 && pipe {
        conf.push(format!("extra-bufs={}", r.extra_bufs));
    }
    // A name that carries its own `@conf:` (only raw API-14 requests can:
    // libnetmap parses it itself) keeps it; the request's counts yield.
    if !conf.is_empty() && !name.contains("@conf:") {
        name += "@conf:";
        name += &conf.join(",");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, mode: u32, ring: u16) -> Registration {
        Registration {
            name: name.into(),
            mode,
            ring,
            ..Default::default()
        }
    }

    #[test]
    fn names() {
        let none = |_| false;
        assert_eq!(port_name(&reg("p{0", 1, 0), none).unwrap(), "netmap:p{0");
        assert_eq!(port_name(&reg("p", 5, 3), none).unwrap(), "netmap:p{3");
        assert_eq!(port_name(&reg("p", 6, 0), none).unwrap(), "netmap:p}0");
        assert_eq!(
            port_name(&reg("vfio:0000:00:02.0", 4, 1), none).unwrap(),
            "vfio:0000:00:02.0-1"
        );
        let mut r = reg("model:ixgbe0", 1, 0);
        r.flags = flags::NR_RX_RINGS_ONLY | flags::NR_NO_TX_POLL;
        r.mem_id = 3;
        r.rings = 2;
        r.slots = 512;
        assert_eq!(
            port_name(&r, none).unwrap(),
            "model:ixgbe0/R@3@conf:slots=512,rings=2"
        );
        r.mem_id = 0x8001;
        assert!(
            port_name(&r, |id| id == 0x8001)
                .unwrap()
                .starts_with("model:ixgbe0/R@conf")
        );
        let mut own = reg("model:ixgbe0@conf:wire=x", 1, 0);
        own.slots = 512;
        assert_eq!(port_name(&own, none).unwrap(), "model:ixgbe0@conf:wire=x");
        assert!(matches!(
            port_name(&reg("p{0", 5, 0), none),
            Err(PreloadError::PipeTwice(_))
        ));
        assert!(matches!(
            port_name(&reg("p", 7, 0), none),
            Err(PreloadError::Mode(7))
        ));
    }

    #[test]
    fn c_names() {
        assert_eq!(c_name(b"p{0\0junk").unwrap(), "p{0");
        assert_eq!(c_name(&[b'a'; 64]).unwrap(), "a".repeat(64));
        assert!(c_name(b"\0").is_err());
        assert!(c_name(&[0xff, 0]).is_err());
    }

    #[test]
    fn legacy_modes() {
        assert_eq!(legacy_mode(0, ringid::HW_RING | 2), mode::ONE_NIC);
        assert_eq!(legacy_mode(0, 0), mode::ALL_NIC);
        assert_eq!(legacy_mode(mode::PIPE_MASTER | 0x800, 0), mode::PIPE_MASTER);
    }
}
