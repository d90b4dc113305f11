//! The Toeplitz hash of RSS (82599 datasheet 7.1.2.8.1) and the input it
//! is computed over, parsed from a frame.

/// Toeplitz hash of `input` under `key` (as many key bits are used as
/// input bits + 32).
pub fn toeplitz(key: &[u8; 40], input: &[u8]) -> u32 {
    assert!(input.len() + 4 <= key.len(), "input too long for the key");
    let mut result = 0u32;
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    for (i, &byte) in input.iter().enumerate() {
        let next = key[i + 4];
        for b in 0..8 {
            if byte & (0x80 >> b) != 0 {
                result ^= window;
            }
            window = (window << 1) | ((next >> (7 - b)) & 1) as u32;
        }
    }
    result
}

/// Addresses and ports of a frame.
pub type Parsed = (Vec<u8>, Vec<u8>, bool, Option<(u8, [u8; 4])>);

/// Parses an Ethernet frame for RSS: source and destination address,
/// whether IPv6, and (protocol, ports) for TCP/UDP unless the packet is a
/// fragment. IPv6 extension headers are not followed.
pub fn parse(frame: &[u8]) -> Option<Parsed> {
    if frame.len() < 14 {
        return None;
    }
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let ip = &frame[14..];
    match ethertype {
        0x0800 if ip.len() >= 20 && ip[0] >> 4 == 4 => {
            let ihl = (ip[0] & 0xf) as usize * 4;
            let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
            let proto = ip[9];
            let ports = (!frag && (proto == 6 || proto == 17) && ip.len() >= ihl + 4)
                .then(|| (proto, [ip[ihl], ip[ihl + 1], ip[ihl + 2], ip[ihl + 3]]));
            Some((ip[12..16].to_vec(), ip[16..20].to_vec(), false, ports))
        }
        0x86dd if ip.len() >= 40 && ip[0] >> 4 == 6 => {
            let proto = ip[6];
            let ports = ((proto == 6 || proto == 17) && ip.len() >= 44)
                .then(|| (proto, [ip[40], ip[41], ip[42], ip[43]]));
            Some((ip[8..24].to_vec(), ip[24..40].to_vec(), true, ports))
        }
        _ => None,
    }
}

/// RSS types of the receive write-back (pkt_info bits 3:0).
pub const RSSTYPE_IPV4_TCP: u16 = 1;
pub const RSSTYPE_IPV4: u16 = 2;
pub const RSSTYPE_IPV6_TCP: u16 = 3;
pub const RSSTYPE_IPV6: u16 = 5;
pub const RSSTYPE_IPV4_UDP: u16 = 7;
pub const RSSTYPE_IPV6_UDP: u16 = 8;

/// The hash and RSS type for `frame` under MRQC's field enables, or None
/// when no enabled type applies.
pub fn rss(key: &[u8; 40], mrqc: u32, frame: &[u8]) -> Option<(u32, u16)> {
    let (src, dst, v6, ports) = parse(frame)?;
    let on = |bit: u32| mrqc & (1 << bit) != 0;
    // MRQC field enables: IPv4 (17), IPv4/TCP (16), IPv4/UDP (22), IPv6
    // (20), IPv6/TCP (21), IPv6/UDP (23).
    let (l3_type, tcp_bit, udp_bit, l3_bit) = if v6 {
        (RSSTYPE_IPV6, 21, 23, 20)
    } else {
        (RSSTYPE_IPV4, 16, 22, 17)
    };
    let mut input = src;
    input.extend_from_slice(&dst);
    match ports {
        Some((6, p)) if on(tcp_bit) => {
            input.extend_from_slice(&p);
            let t = if v6 {
                RSSTYPE_IPV6_TCP
            } else {
                RSSTYPE_IPV4_TCP
            };
            Some((toeplitz(key, &input), t))
        }
        Some((17, p)) if on(udp_bit) => {
            input.extend_from_slice(&p);
            let t = if v6 {
                RSSTYPE_IPV6_UDP
            } else {
                RSSTYPE_IPV4_UDP
            };
            Some((toeplitz(key, &input), t))
        }
        _ if on(l3_bit) => Some((toeplitz(key, &input), l3_type)),
        _ => None,
    }
}
