//! pkt-gen: netmap's packet generator and sink, over vfio-netmap ports.
//!
//! `pkt-gen -i netmap:p{0 -f tx -n 1000000` sends UDP/IPv4 frames,
//! `pkt-gen -i netmap:p}0 -f rx` receives and verifies them, `-f ping` and
//! `-f pong` measure round trips.
//!
//! Frame format: Ethernet / IPv4 / UDP built by etherparse, then a payload of
//! `seq: u64 LE`, `magic: u16 LE`, `frame length: u16 LE`, and a pattern of
//! 64-bit words derived from `seq`, so a receiver recomputes and checks every
//! byte. Senders prebuild one template per frame size and per packet patch
//! only addresses, ports, the sequence number and the pattern, updating the
//! IPv4 and UDP checksums incrementally (RFC 1624).

mod common;

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use common::{Counters, Idle, POLL_SLICE, Sleeps, periodic_line, speed_line, stopped, wait_port};
use etherparse::PacketBuilder;
use vfio_netmap::abi::slot_flags::NS_BUF_CHANGED;
use vfio_netmap::api::poll::{POLLHUP, POLLIN, POLLOUT};
use vfio_netmap::api::{Port, Ring};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Function {
    /// Send frames.
    Tx,
    /// Receive and verify frames.
    Rx,
    /// Send a frame, wait for its reflection, report round-trip times.
    Ping,
    /// Reflect every received frame back (swapping MACs, IPs and ports).
    Pong,
    /// Send frames and receive and verify frames at the same time, on one
    /// port (for NICs, which only one process can open): ends when `-n`
    /// frames are sent and received, or 2 s after sending ends if some
    /// never come.
    Txrx,
}

/// netmap pkt-gen, for vfio-netmap ports (pipes, NICs, models).
#[derive(Parser, Debug)]
#[command(
    name = "pkt-gen",
    version,
    about = "netmap-style packet generator / sink / ping-pong over vfio-netmap ports",
    after_help = common::help_with_port_names(
        "Examples:\n  pkt-gen -i 'netmap:p}0' -f rx -n 1000000\n  pkt-gen -i 'netmap:p{0' -f tx -n 1000000 -l 60-1514 -s 10.0.0.1:1000-10.0.0.4:1003\n  pkt-gen -i 'p}1' -f pong   and   pkt-gen -i 'p{1' -f ping -n 1000\n  pkt-gen -i vfio:0000:00:03.0 -f rx   and   pkt-gen -i vfio:0000:00:04.0 -f tx -n 1000000 -R 500000"
    )
)]
struct Args {
    /// Port name: `netmap:pipe{0` (master), `netmap:pipe}0` (slave),
    /// `vfio:0000:00:03.0` (a NIC), `model:ixgbe0`, with `@conf:` options
    /// (see the end of --help); a bare name gets `netmap:` prepended.
    #[arg(short = 'i', long = "interface", value_name = "PORT")]
    interface: String,
    /// Function: tx, rx, ping, pong or txrx.
    #[arg(short = 'f', long = "function", value_enum, default_value = "rx")]
    function: Function,
    /// Packets to send / receive (0 = forever).
    #[arg(short = 'n', long = "count", default_value_t = 0)]
    count: u64,
    /// Frame length without CRC, or MIN-MAX to cycle through sizes
    /// (frame k has length MIN + k mod (MAX-MIN+1)). Default 60. For rx,
    /// giving -l also checks each frame's length against it.
    #[arg(short = 'l', long = "length", value_name = "LEN|MIN-MAX", value_parser = LenSpec::from_str)]
    length: Option<LenSpec>,
    /// Packets per sync (batch size).
    #[arg(short = 'b', long = "burst", default_value_t = 512)]
    burst: u32,
    /// Rate limit in packets per second (0 = none).
    #[arg(short = 'R', long = "rate", default_value_t = 0)]
    rate: u64,
    /// Source IP[:PORT[-IP[:PORT]]] range; addresses and ports cycle.
    #[arg(short = 's', long = "src-ip", default_value = "10.0.0.1:1234", value_parser = AddrRange::from_str)]
    src: AddrRange,
    /// Destination IP[:PORT[-IP[:PORT]]] range.
    #[arg(short = 'd', long = "dst-ip", default_value = "10.1.0.1:1234", value_parser = AddrRange::from_str)]
    dst: AddrRange,
    /// Source MAC address (default: the NIC's own MAC, 00:00:00:00:00:00 on
    /// pipes), so that replies to ping come back through MAC filtering.
    #[arg(short = 'S', long = "src-mac", value_parser = parse_mac)]
    src_mac_arg: Option<Mac>,
    #[arg(skip)]
    src_mac: Mac,
    /// Destination MAC address.
    #[arg(short = 'D', long = "dst-mac", default_value = "ff:ff:ff:ff:ff:ff", value_parser = parse_mac)]
    dst_mac: Mac,
    /// Seconds to wait for the link (for pipes: for the peer to be there);
    /// any number: SIGINT ends the wait.
    #[arg(short = 'w', long = "wait-link", default_value_t = 2)]
    wait_link: u64,
    /// Report interval in milliseconds (values beyond 2^40, 35 years,
    /// count as 2^40: no report).
    #[arg(short = 'T', long = "report-ms", default_value_t = 1000)]
    report_ms: u64,
    /// Never sleep: spin while the ring is empty (rx) or full (tx), and
    /// between paced sends, as DPDK's testpmd does. Costs a whole CPU
    /// while idle; for benchmarks, where a wake-up from sleep (an
    /// interrupt, slow in a VM) could lose frames.
    #[arg(long = "busy")]
    busy: bool,
}

type Mac = [u8; 6];

fn parse_mac(s: &str) -> Result<Mac, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("`{s}` is not a MAC address (aa:bb:cc:dd:ee:ff)"));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).map_err(|_| format!("`{s}` is not a MAC address"))?;
    }
    Ok(mac)
}

// ---------------------------------------------------------------- frame format

const ETH_LEN: usize = 14;
const IP_OFF: usize = 14;
const UDP_OFF: usize = 34;
const PAYLOAD_OFF: usize = 42;
/// seq (8) + magic (2) + length (2).
const HDR_LEN: usize = PAYLOAD_OFF + 12;
const PATTERN_OFF: usize = HDR_LEN;
const MIN_FRAME: usize = HDR_LEN;
const MAGIC: u16 = 0x4e56;
const PATTERN_STEP: u64 = 0x0123_4567_89ab_cdef;

/// Frame lengths: one, or a range cycled by sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LenSpec {
    min: usize,
    max: usize,
}

impl FromStr for LenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad length `{t}`"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(s)?, num(s)?),
        };
        if min < MIN_FRAME || max < min || max > u16::MAX as usize {
            return Err(format!("length {s}: need {MIN_FRAME} <= MIN <= MAX"));
        }
        Ok(LenSpec { min, max })
    }
}

impl LenSpec {
    fn len_of(&self, seq: u64) -> usize {
        self.min + (seq % (self.max - self.min + 1) as u64) as usize
    }
    fn describe(&self) -> String {
        if self.min == self.max {
            self.min.to_string()
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// An address/port range, `IP[:PORT[-IP[:PORT]]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AddrRange {
    ip0: u32,
    ip1: u32,
    port0: u16,
    port1: u16,
}

impl FromStr for AddrRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let one = |t: &str, default_port: u16| -> Result<(u32, u16), String> {
            let (ip, port) = match t.split_once(':') {
                Some((ip, p)) => (
                    ip,
                    p.parse::<u16>().map_err(|_| format!("bad port in `{t}`"))?,
                ),
                None => (t, default_port),
            };
            let ip = Ipv4Addr::from_str(ip).map_err(|_| format!("bad IPv4 address in `{t}`"))?;
            Ok((u32::from(ip), port))
        };
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let (ip0, port0) = one(a, 1234)?;
        let (ip1, port1) = match b {
            Some(b) => one(b, port0)?,
            None => (ip0, port0),
        };
        if ip1 < ip0 || port1 < port0 {
            return Err(format!("range `{s}` ends before it starts"));
        }
        Ok(AddrRange {
            ip0,
            ip1,
            port0,
            port1,
        })
    }
}

/// Current addresses; advanced per packet like netmap's `update_addresses`:
/// source port fastest, then source IP, destination port, destination IP.
#[derive(Clone, Copy, Debug)]
struct Addrs {
    sip: u32,
    dip: u32,
    sport: u16,
    dport: u16,
}

impl Addrs {
    fn start(src: &AddrRange, dst: &AddrRange) -> Self {
        Addrs {
            sip: src.ip0,
            dip: dst.ip0,
            sport: src.port0,
            dport: dst.port0,
        }
    }
    #[inline]
    fn advance(&mut self, src: &AddrRange, dst: &AddrRange) {
        if self.sport < src.port1 {
            self.sport += 1;
            return;
        }
        self.sport = src.port0;
        if self.sip < src.ip1 {
            self.sip += 1;
            return;
        }
        self.sip = src.ip0;
        if self.dport < dst.port1 {
            self.dport += 1;
            return;
        }
        self.dport = dst.port0;
        if self.dip < dst.ip1 {
            self.dip += 1;
            return;
        }
        self.dip = dst.ip0;
    }
}

// ---- Internet checksum in "little-endian domain" (RFC 1071 byte-order
// independence): sum 16/32/64-bit little-endian words with end-around carry
// (2^16, 2^32 and 2^64 are all 1 modulo 0xffff), fold, and the result's
// little-endian bytes are the checksum's network-order bytes.

#[inline(always)]
fn add(a: u64, b: u64) -> u64 {
    let (s, c) = a.overflowing_add(b);
    s + c as u64
}

#[inline(always)]
fn fold(mut a: u64) -> u16 {
    a = (a & 0xffff_ffff) + (a >> 32);
    a = (a & 0xffff) + (a >> 16);
    a = (a & 0xffff) + (a >> 16);
    a = (a & 0xffff) + (a >> 16);
    a as u16
}

#[inline(always)]
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}
#[inline(always)]
fn le32(b: &[u8]) -> u64 {
    u32::from_le_bytes(b[..4].try_into().unwrap()) as u64
}
#[inline(always)]
fn le16(b: &[u8]) -> u64 {
    u16::from_le_bytes(b[..2].try_into().unwrap()) as u64
}

#[inline(always)]
fn pattern_base(seq: u64) -> u64 {
    (seq ^ 0x5bd1_e995_a5a5_5a5a).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Writes the payload pattern of packet `seq`; returns its checksum sum.
#[inline(always)]
fn fill_pattern(dst: &mut [u8], seq: u64) -> u64 {
    let mut w = pattern_base(seq);
    let mut acc = 0u64;
    let mut chunks = dst.chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&w.to_le_bytes());
        acc = add(acc, w);
        w = w.wrapping_add(PATTERN_STEP);
    }
    let rem = chunks.into_remainder();
    if !rem.is_empty() {
        let n = rem.len();
        rem.copy_from_slice(&w.to_le_bytes()[..n]);
        acc = add(acc, w & ((1u64 << (8 * n)) - 1));
    }
    acc
}

/// Writes the pattern of packet `seq` in `words` whole 8-byte words, past
/// the frame's end when its length is not a multiple of 8; returns the
/// checksum sum of the frame's bytes, the last word cut to `last_mask`.
#[inline(always)]
fn fill_pattern_words(dst: &mut [u8], seq: u64, words: usize, last_mask: u64) -> u64 {
    let mut w = pattern_base(seq);
    let mut acc = 0u64;
    for (i, c) in dst[..words * 8].chunks_exact_mut(8).enumerate() {
        c.copy_from_slice(&w.to_le_bytes());
        acc = add(acc, if i + 1 == words { w & last_mask } else { w });
        w = w.wrapping_add(PATTERN_STEP);
    }
    acc
}

/// Checks the payload pattern of packet `seq`; returns its checksum sum.
#[inline(always)]
fn check_pattern(src: &[u8], seq: u64) -> Option<u64> {
    let mut w = pattern_base(seq);
    let mut acc = 0u64;
    let mut chunks = src.chunks_exact(8);
    let mut bad = 0u64;
    for c in &mut chunks {
        let v = le64(c);
        bad |= v ^ w;
        acc = add(acc, v);
        w = w.wrapping_add(PATTERN_STEP);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut b = [0u8; 8];
        b[..rem.len()].copy_from_slice(rem);
        let v = u64::from_le_bytes(b);
        bad |= v ^ (w & ((1u64 << (8 * rem.len())) - 1));
        acc = add(acc, v);
    }
    (bad == 0).then_some(acc)
}

/// A prebuilt frame header for one frame length.
struct Template {
    hdr: [u8; HDR_LEN],
    /// ~ip_csum + ~(template addresses): add the new addresses, fold, invert.
    ip_base: u64,
    /// ~udp_csum + ~(template addresses and ports); the template's seq and
    /// pattern are zero, so their new values are simply added.
    udp_base: u64,
    /// ~udp_csum alone: with fixed addresses and ports (the default) only
    /// seq and pattern change.
    udp_fixed: u64,
    /// Pattern words (8 bytes each, the last one cut to `last_mask`).
    words: usize,
    last_mask: u64,
}

impl Template {
    /// Writes the pattern of packet `seq` (a frame of `len` bytes) into
    /// `dst`, the buffer from `PATTERN_OFF` on; returns its checksum sum.
    /// In whole words where the buffer has room past the frame (the bytes
    /// past `len` are not sent), which avoids a variable-length tail copy
    /// (a `memcpy` call) per frame.
    #[inline(always)]
    fn write_pattern(&self, dst: &mut [u8], len: usize, seq: u64) -> u64 {
        if dst.len() >= self.words * 8 {
            fill_pattern_words(dst, seq, self.words, self.last_mask)
        } else {
            fill_pattern(&mut dst[..len - PATTERN_OFF], seq)
        }
    }
}

struct Generator {
    lens: LenSpec,
    src: AddrRange,
    dst: AddrRange,
    templates: Vec<Template>,
    addrs: Addrs,
    /// Index into `lens` of the next frame (seq mod range, kept incrementally).
    len_idx: usize,
    /// One source and one destination address and port: the templates'
    /// addresses and IP checksums are final, so `fill` skips them (fewer
    /// instructions per frame, which is what a TCG guest pays for).
    fixed_addrs: bool,
}

impl Generator {
    fn new(args: &Args, lens: LenSpec) -> Generator {
        let (src, dst) = (args.src, args.dst);
        let templates = (lens.min..=lens.max)
            .map(|len| {
                let builder = PacketBuilder::ethernet2(args.src_mac, args.dst_mac)
                    .ipv4(src.ip0.to_be_bytes(), dst.ip0.to_be_bytes(), 64)
                    .udp(src.port0, dst.port0);
                let mut payload = vec![0u8; len - PAYLOAD_OFF];
                payload[8..10].copy_from_slice(&MAGIC.to_le_bytes());
                payload[10..12].copy_from_slice(&(len as u16).to_le_bytes());
                let mut frame = Vec::with_capacity(len);
                builder
                    .write(&mut frame, &payload)
                    .expect("building the template frame");
                assert_eq!(frame.len(), len);
                let mut hdr = [0u8; HDR_LEN];
                hdr.copy_from_slice(&frame[..HDR_LEN]);
                let not32 = |b: &[u8]| !(le32(b) as u32) as u64;
                let addrs_not = add(not32(&frame[26..30]), not32(&frame[30..34]));
                let ip_base = add(!(le16(&frame[24..26]) as u16) as u64, addrs_not);
                let udp_base = add(
                    add(!(le16(&frame[40..42]) as u16) as u64, addrs_not),
                    not32(&frame[UDP_OFF..UDP_OFF + 4]),
                );
                Template {
                    hdr,
                    ip_base,
                    udp_base,
                    udp_fixed: !(le16(&frame[40..42]) as u16) as u64,
                    words: (len - PATTERN_OFF).div_ceil(8),
                    last_mask: match (len - PATTERN_OFF) % 8 {
                        0 => u64::MAX,
                        r => (1u64 << (8 * r)) - 1,
                    },
                }
            })
            .collect();
        Generator {
            lens,
            src,
            dst,
            templates,
            addrs: Addrs::start(&src, &dst),
            len_idx: 0,
            fixed_addrs: src.ip0 == src.ip1
                && src.port0 == src.port1
                && dst.ip0 == dst.ip1
                && dst.port0 == dst.port1,
        }
    }

    /// Writes frame `seq` (the next one: addresses and sizes advance per
    /// call) into `buf`; returns its length.
    #[inline(always)]
    fn fill(&mut self, buf: &mut [u8], seq: u64) -> usize {
        let t = &self.templates[self.len_idx];
        let len = self.lens.min + self.len_idx;
        let pattern = t.write_pattern(&mut buf[PATTERN_OFF..], len, seq);
        let frame = &mut buf[..len];
        frame[..HDR_LEN].copy_from_slice(&t.hdr);
        frame[PAYLOAD_OFF..PAYLOAD_OFF + 8].copy_from_slice(&seq.to_le_bytes());
        if self.fixed_addrs {
            let acc = add(add(t.udp_fixed, seq), pattern);
            Self::put_udp_checksum(frame, acc);
            self.next_len();
            return len;
        }
        let a = self.addrs;
        frame[26..30].copy_from_slice(&a.sip.to_be_bytes());
        frame[30..34].copy_from_slice(&a.dip.to_be_bytes());
        frame[34..36].copy_from_slice(&a.sport.to_be_bytes());
        frame[36..38].copy_from_slice(&a.dport.to_be_bytes());
        let addr_sum = add(le32(&frame[26..30]), le32(&frame[30..34]));
        let ip = !fold(add(t.ip_base, addr_sum));
        frame[24..26].copy_from_slice(&ip.to_le_bytes());
        let mut acc = add(t.udp_base, addr_sum);
        acc = add(acc, le32(&frame[34..38]));
        acc = add(acc, seq);
        acc = add(acc, pattern);
        Self::put_udp_checksum(frame, acc);
        self.addrs.advance(&self.src, &self.dst);
        self.next_len();
        len
    }

    /// Stores the UDP checksum of a frame whose one's-complement sum is
    /// `acc` (0 is sent as 0xffff: 0 means "no checksum").
    #[inline(always)]
    fn put_udp_checksum(frame: &mut [u8], acc: u64) {
        let mut udp = !fold(acc);
        if udp == 0 {
            udp = 0xffff;
        }
        frame[40..42].copy_from_slice(&udp.to_le_bytes());
    }

    #[inline(always)]
    fn next_len(&mut self) {
        self.len_idx += 1;
        if self.len_idx == self.templates.len() {
            self.len_idx = 0;
        }
    }
}

/// Why a frame failed verification.
#[derive(Debug)]
enum Bad {
    Header,
    IpChecksum,
    Length,
    Pattern,
    UdpChecksum,
}

/// Verifies a frame built by `Generator::fill` (possibly reflected by
/// pong); returns its sequence number.
#[inline(always)]
fn verify(frame: &[u8], lens: Option<&LenSpec>) -> Result<u64, Bad> {
    let len = frame.len();
    if len < MIN_FRAME
        || frame[12..14] != [0x08, 0x00]
        || frame[IP_OFF] != 0x45
        || frame[IP_OFF + 9] != 17
        || le16(&frame[PAYLOAD_OFF + 8..]) != MAGIC as u64
    {
        return Err(Bad::Header);
    }
    if le16(&frame[PAYLOAD_OFF + 10..]) as usize != len
        || u16::from_be_bytes([frame[16], frame[17]]) as usize != len - ETH_LEN
        || u16::from_be_bytes([frame[38], frame[39]]) as usize != len - UDP_OFF
    {
        return Err(Bad::Length);
    }
    let seq = le64(&frame[PAYLOAD_OFF..]);
    if lens.is_some_and(|l| l.len_of(seq) != len) {
        return Err(Bad::Length);
    }
    let ip = add(
        add(le64(&frame[14..22]), le64(&frame[22..30])),
        le32(&frame[30..34]),
    );
    if fold(ip) != 0xffff {
        return Err(Bad::IpChecksum);
    }
    let payload = check_pattern(&frame[PATTERN_OFF..], seq).ok_or(Bad::Pattern)?;
    // Pseudo header (addresses, protocol, UDP length), UDP header, payload.
    let mut acc = add(le64(&frame[26..34]), 0x1100);
    acc = add(acc, le16(&frame[38..40]));
    acc = add(acc, le64(&frame[UDP_OFF..UDP_OFF + 8]));
    acc = add(acc, seq);
    acc = add(acc, le32(&frame[PAYLOAD_OFF + 8..]));
    acc = add(acc, payload);
    if frame[40..42] == [0, 0] || fold(acc) != 0xffff {
        return Err(Bad::UdpChecksum);
    }
    Ok(seq)
}

// ---------------------------------------------------------------- reporting

struct Reporter {
    start: Instant,
    interval: Duration,
    last: Instant,
    next: Instant,
    cur: Counters,
    total: Counters,
}

impl Reporter {
    fn new(report_ms: u64) -> Reporter {
        let now = Instant::now();
        let interval = common::report_interval(report_ms);
        Reporter {
            start: now,
            interval,
            last: now,
            next: now + interval,
            cur: Counters::new(),
            total: Counters::new(),
        }
    }

    #[inline(always)]
    fn batch(&mut self, pkts: u64, bytes: u64, space: u32) {
        self.cur.pkts += pkts;
        self.cur.bytes += bytes;
        self.cur.events += 1;
        self.cur.min_space = self.cur.min_space.min(space);
    }

    /// Prints a rate line when one is due; returns the time it read, for
    /// the caller's other timers (a clock read is not free under TCG).
    #[inline(always)]
    fn tick(&mut self) -> Instant {
        let now = Instant::now();
        if now >= self.next {
            self.flush(now, true);
        }
        now
    }

    fn flush(&mut self, now: Instant, print: bool) {
        let usec = now.duration_since(self.last).as_micros() as u64;
        if print {
            println!("{}", periodic_line(&self.cur, usec));
        }
        self.total.pkts += self.cur.pkts;
        self.total.bytes += self.cur.bytes;
        self.total.events += self.cur.events;
        self.cur = Counters::new();
        self.last = now;
        self.next = now + self.interval;
    }

    /// Closes the books; returns (pkts, bytes, events, seconds).
    /// Restarts the clock (receivers count from their first packet, as
    /// netmap's pkt-gen does).
    fn restart(&mut self) {
        *self = Reporter::new(self.interval.as_millis() as u64);
    }

    fn finish(&mut self) -> (u64, u64, u64, f64) {
        let now = Instant::now();
        self.flush(now, false);
        let t = &self.total;
        (
            t.pkts,
            t.bytes,
            t.events,
            now.duration_since(self.start).as_secs_f64(),
        )
    }
}

// ---------------------------------------------------------------- functions

fn tx(args: &Args, port: &mut Port, lens: LenSpec) -> bool {
    let mut generator = Generator::new(args, lens);
    let mut seen_peer = common::wait_for_link(port, args.wait_link);
    let mut link = LinkWatch::new(port);
    let burst = args.burst.max(1) as u64;
    let n = args.count;
    let mut rep = Reporter::new(args.report_ms);
    let mut seq = 0u64;
    let mut idle = Idle::new(args.busy);
    let mut peer_gone = false;
    let nrings = port.num_tx_rings();
    let mut ring_i = 0;
    while !stopped() && (n == 0 || seq < n) {
        let now = rep.tick();
        link.check(port, now);
        let mut want = burst;
        if n > 0 {
            want = want.min(n - seq);
        }
        if args.rate > 0 {
            let elapsed = rep.start.elapsed().as_nanos();
            let due = (elapsed * args.rate as u128 / 1_000_000_000) as u64 + 1;
            // Send a millisecond's worth at a time: on a NIC every txsync
            // is a register write (a VM exit under virtualization).
            let need = rate_chunk(args.rate, burst).min(want);
            if due < seq + need {
                let at = Duration::from_nanos(
                    ((seq + need - 1) as u128 * 1_000_000_000 / args.rate as u128) as u64,
                );
                let wait = at.saturating_sub(rep.start.elapsed());
                if wait > Duration::from_micros(100) && !args.busy {
                    std::thread::sleep(wait.min(POLL_SLICE));
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            want = want.min(due - seq);
        }
        let Some(mut ring) = or_report(port.tx_ring(ring_i)) else {
            return false;
        };
        let space = ring.space();
        if space == 0 {
            ring_i = (ring_i + 1) % nrings;
            if ring_i != 0 {
                continue;
            }
            if let Err(e) = port.txsync() {
                eprintln!("pkt-gen: txsync: {e}");
                return false;
            }
            if idle.should_sleep() {
                let rev = wait_port(port, POLLOUT, idle.timeout());
                seen_peer |= port.peer_alive();
                if rev & POLLHUP != 0 && seen_peer && !link.is_nic {
                    peer_gone = true;
                    break;
                }
            }
            continue;
        }
        idle.reset();
        let k = want.min(space as u64) as u32;
        let mut bytes = 0u64;
        let first = seq;
        let filled = ring.fill_from_cur(k, |buf, i| {
            let len = generator.fill(buf, first + i as u64);
            bytes += len as u64;
            len
        });
        if filled < k {
            eprintln!(
                "pkt-gen: a TX slot names a buffer outside the pool: something else wrote this ring \
                 (another process sharing the region with @N?); run pkt-gen on a port of its own"
            );
            return false;
        }
        seq += k as u64;
        let k = k as u64;
        if let Err(e) = port.txsync() {
            eprintln!("pkt-gen: txsync: {e}");
            return false;
        }
        rep.batch(k, bytes, space);
    }
    let (pkts, bytes, events, secs) = rep.finish();
    // A NIC loses what it has not sent when the port closes (a pipe's
    // receiver still finds it).
    let mut unsent = 0;
    if !peer_gone {
        let left = common::drain_tx(port);
        if link.is_nic {
            unsent = left;
        }
    }
    if peer_gone {
        println!("Peer gone: stopping.");
    }
    println!(
        "Sent {pkts} packets {bytes} bytes {events} events {} bytes each in {secs:.2} seconds.",
        lens.describe()
    );
    println!("{}", speed_line(pkts, bytes, events, secs));
    if unsent > 0 {
        println!(
            "Unsent: {unsent} frame(s) still in the TX ring, lost as the port closes: the device \
             took none for {:?} (a receiver holding a flow-controlled link back, a link down)",
            common::DRAIN_STALL
        );
    }
    unsent == 0 && (n == 0 || pkts == n)
}

/// Verification counters of a receiver.
struct Verifier {
    started: Instant,
    expected: u64,
    ok: u64,
    lost: u64,
    out_of_order: u64,
    corrupt: u64,
    first_bad: Option<String>,
    /// Runs of missing sequence numbers, and the first one (first missing
    /// sequence number, how many): where a loss happened tells a stall at
    /// start-up from one under load.
    gaps: u64,
    first_gap: Option<(u64, u64, Duration)>,
}

impl Verifier {
    fn new() -> Verifier {
        Verifier {
            started: Instant::now(),
            expected: 0,
            ok: 0,
            lost: 0,
            out_of_order: 0,
            corrupt: 0,
            first_bad: None,
            gaps: 0,
            first_gap: None,
        }
    }

    #[inline(always)]
    fn check(&mut self, frame: &[u8], lens: Option<&LenSpec>) -> Option<u64> {
        match verify(frame, lens) {
            Ok(seq) => {
                if seq == self.expected {
                    self.expected += 1;
                } else if seq > self.expected {
                    self.gap(seq);
                    self.expected = seq + 1;
                } else {
                    self.out_of_order += 1;
                }
                self.ok += 1;
                Some(seq)
            }
            Err(why) => {
                self.corrupt_frame(frame, why);
                None
            }
        }
    }

    #[cold]
    fn gap(&mut self, seq: u64) {
        self.lost += seq - self.expected;
        self.gaps += 1;
        let at = self.started.elapsed();
        self.first_gap
            .get_or_insert((self.expected, seq - self.expected, at));
    }

    #[cold]
    fn corrupt_frame(&mut self, frame: &[u8], why: Bad) {
        self.corrupt += 1;
        if self.first_bad.is_none() {
            let seq = frame.get(PAYLOAD_OFF..PAYLOAD_OFF + 8).map(le64);
            self.first_bad = Some(format!(
                "{why:?} in frame of {} bytes (seq field {seq:?})",
                frame.len()
            ));
        }
    }

    /// The `Verified:` line, and where the first loss and corruption were.
    fn print(&self) {
        println!(
            "Verified: {} ok, {} lost, {} out-of-order, {} corrupt",
            self.ok, self.lost, self.out_of_order, self.corrupt
        );
        if let Some((first, n, at)) = self.first_gap {
            println!(
                "Lost in {} gap(s); the first: {n} frame(s) from sequence number {first}, \
                 noticed {:.3} s after the receiver started",
                self.gaps,
                at.as_secs_f64()
            );
        }
        if let Some(b) = &self.first_bad {
            println!("First corrupt frame: {b}");
        }
    }
}

fn rx(args: &Args, port: &mut Port) -> bool {
    let lens = args.length;
    let n = args.count;
    let mut v = Verifier::new();
    let mut rep = Reporter::new(args.report_ms);
    let mut received = 0u64;
    let mut idle = Idle::new(args.busy);
    let mut sleeps = Sleeps::default();
    let mut fullest = 0u32;
    let mut seen_peer = port.peer_alive();
    let mut hup = false;
    let mut link = LinkWatch::new(port);
    let nrings = port.num_rx_rings();
    while !stopped() && (n == 0 || received < n) {
        let now = rep.tick();
        link.check(port, now);
        if let Err(e) = port.rxsync() {
            eprintln!("pkt-gen: rxsync: {e}");
            return false;
        }
        let mut got = 0u64;
        for r in 0..nrings {
            let Some(ring) = or_report(port.rx_ring(r)) else {
                return false;
            };
            let avail = ring.space();
            if avail == 0 {
                continue;
            }
            fullest = fullest.max(avail);
            let mut k = avail as u64;
            if n > 0 {
                k = k.min(n - received - got);
            }
            if received + got == 0 {
                rep.restart();
            }
            let mut head = ring.head();
            let mut bytes = 0u64;
            for _ in 0..k {
                let Some(pkt) = ring.packet(head) else {
                    eprintln!("pkt-gen: {}", bad_slot(&ring, head));
                    return false;
                };
                bytes += pkt.len() as u64;
                v.check(pkt, lens.as_ref());
                head = ring.next(head);
            }
            ring.advance_to(head);
            got += k;
            rep.batch(k, bytes, avail);
        }
        received += got;
        if got > 0 {
            idle.reset();
            sleeps.frames_came();
            continue;
        }
        if hup {
            break; // the peer is gone and nothing more came
        }
        if idle.should_sleep() {
            let started = Instant::now();
            let rev = wait_port(port, POLLIN, idle.timeout());
            if received > 0 && idle.sleeps() {
                sleeps.slept(started.elapsed(), rev == 0);
            }
            seen_peer |= port.peer_alive();
            if rev & POLLHUP != 0 && (seen_peer || received > 0) && !link.is_nic {
                hup = true;
            }
        }
    }
    // Hand the last slots back so a sender can go on.
    let _ = port.rxsync();
    let (pkts, bytes, events, secs) = rep.finish();
    if hup {
        println!("Peer gone: stopping.");
    }
    if n > 0 && v.expected < n && !stopped() {
        v.gap(n); // the tail that never came
    }
    let each = bytes.checked_div(pkts).unwrap_or(0);
    println!(
        "Received {pkts} packets {bytes} bytes {events} events {each} bytes each in {secs:.2} seconds."
    );
    println!("{}", speed_line(pkts, bytes, events, secs));
    if pkts > 0 {
        let slots = port.rx_ring(0).map_or(0, |r| r.num_slots());
        println!("The fullest RX ring held {fullest} frame(s) at once, of {slots} slots");
        println!("{sleeps}");
    }
    v.print();
    let clean = v.lost == 0 && v.out_of_order == 0 && v.corrupt == 0;
    clean && (n == 0 || v.ok == n)
}

/// The ring, or `None` after saying why not (`main` checked the port has
/// the rings its function needs, so this is a safety net).
fn or_report<T>(ring: Result<T, vfio_netmap::api::ApiError>) -> Option<T> {
    ring.map_err(|e| eprintln!("pkt-gen: {e}")).ok()
}

/// Frames sent at once under a rate limit: a millisecond's worth, at most
/// a burst.
fn rate_chunk(rate: u64, burst: u64) -> u64 {
    (rate / 1000).clamp(1, burst)
}

/// Reports a NIC's link going down and up (checked every 100 ms: reading
/// the link is a register access). A NIC whose link goes down is not a
/// peer gone for good, as a closed pipe is: tx and rx carry on.
struct LinkWatch {
    is_nic: bool,
    up: bool,
    start: Instant,
    next: Instant,
}

impl LinkWatch {
    fn new(port: &mut Port) -> LinkWatch {
        let now = Instant::now();
        LinkWatch {
            is_nic: port.nic_info().is_some(),
            up: port.peer_alive(),
            start: now,
            next: now,
        }
    }

    #[inline(always)]
    fn check(&mut self, port: &Port, now: Instant) {
        if !self.is_nic || now < self.next {
            return;
        }
        self.next = now + Duration::from_millis(100);
        let up = port.peer_alive();
        if up != self.up {
            self.up = up;
            println!(
                "Link {} at {:.3} s",
                if up { "up" } else { "down" },
                now.duration_since(self.start).as_secs_f64()
            );
        }
    }
}

/// Sends `-n` frames (rate-limited by `-R`) and receives and verifies
/// frames on the same port at the same time.
/// What to say of a slot that names no buffer of the region.
fn bad_slot(ring: &Ring, slot: u32) -> String {
    format!(
        "{} slot {slot} names no valid buffer (the shared ring was written by another process)",
        ring.id()
    )
}

fn txrx(args: &Args, port: &mut Port, lens: LenSpec) -> bool {
    let mut generator = Generator::new(args, lens);
    common::wait_for_link(port, args.wait_link);
    let mut link = LinkWatch::new(port);
    if link.is_nic {
        // As netmap's pkt-gen does for NICs ("Wait N secs for phy reset"):
        // the peer was likely opened just now too, and QEMU's e1000 holds
        // reception back for 1 s after RCTL is written (frames beyond its
        // 10,000-frame queue are lost).
        println!("Wait {} secs for phy reset", args.wait_link);
        common::sleep_unless_stopped(Duration::from_secs(args.wait_link));
    }
    let burst = args.burst.max(1) as u64;
    let n = args.count;
    let start = Instant::now();
    let mut rep = Reporter::new(args.report_ms);
    let mut v = Verifier::new();
    let (mut seq, mut received, mut rx_bytes, mut tx_bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut sent_all: Option<Instant> = None;
    let mut last_rx = Instant::now();
    let check_len = args.length;
    while !stopped() {
        let now = rep.tick();
        link.check(port, now);
        if let Err(e) = port.rxsync() {
            eprintln!("pkt-gen: rxsync: {e}");
            return false;
        }
        let mut got = 0u64;
        for r in 0..port.num_rx_rings() {
            let Some(ring) = or_report(port.rx_ring(r)) else {
                return false;
            };
            let avail = ring.space();
            let mut head = ring.head();
            for _ in 0..avail {
                let Some(pkt) = ring.packet(head) else {
                    eprintln!("pkt-gen: {}", bad_slot(&ring, head));
                    return false;
                };
                rx_bytes += pkt.len() as u64;
                v.check(pkt, check_len.as_ref());
                head = ring.next(head);
            }
            ring.advance_to(head);
            got += avail as u64;
        }
        if got > 0 {
            received += got;
            last_rx = Instant::now();
            rep.batch(got, 0, 0);
        }
        if n > 0 && seq >= n {
            let done = *sent_all.get_or_insert_with(Instant::now);
            let quiet = last_rx.max(done).elapsed();
            if received >= n || quiet > Duration::from_secs(2) {
                break;
            }
            let _ = port.txsync();
            continue;
        }
        let mut want = burst;
        if n > 0 {
            want = want.min(n - seq);
        }
        if args.rate > 0 {
            let due = (start.elapsed().as_nanos() * args.rate as u128 / 1_000_000_000) as u64 + 1;
            if due < seq + rate_chunk(args.rate, burst).min(want) {
                if got == 0 {
                    std::hint::spin_loop();
                }
                continue;
            }
            want = want.min(due - seq);
        }
        let Some(mut ring) = or_report(port.tx_ring(0)) else {
            return false;
        };
        let k = want.min(ring.space() as u64);
        let mut cur = ring.cur();
        for _ in 0..k {
            let Some(buf) = ring.buf_mut(cur) else {
                eprintln!("pkt-gen: {}", bad_slot(&ring, cur));
                return false;
            };
            let len = generator.fill(buf, seq);
            let _ = ring.set_len(cur, len as u16);
            let _ = ring.set_flags(cur, 0);
            tx_bytes += len as u64;
            seq += 1;
            cur = ring.next(cur);
        }
        ring.advance_to(cur);
        if let Err(e) = port.txsync() {
            eprintln!("pkt-gen: txsync: {e}");
            return false;
        }
    }
    let _ = port.rxsync();
    let _ = port.txsync();
    rep.finish();
    let secs = start.elapsed().as_secs_f64();
    if n > 0 && v.expected < n && !stopped() {
        v.lost += n - v.expected;
    }
    println!(
        "Sent {seq} packets {tx_bytes} bytes {} bytes each in {secs:.2} seconds.",
        lens.describe()
    );
    let each = rx_bytes.checked_div(received).unwrap_or(0);
    println!(
        "Received {received} packets {rx_bytes} bytes {each} bytes each in {secs:.2} seconds."
    );
    v.print();
    let clean = v.lost == 0 && v.out_of_order == 0 && v.corrupt == 0;
    clean && (n == 0 || (seq == n && v.ok == n))
}

fn ping(args: &Args, port: &mut Port, lens: LenSpec) -> bool {
    let mut generator = Generator::new(args, lens);
    common::wait_for_link(port, args.wait_link);
    let n = args.count;
    let mut rep = Reporter::new(args.report_ms);
    let mut v = Verifier::new();
    let (mut rtt_min, mut rtt_max, mut rtt_sum, mut replies) = (u64::MAX, 0u64, 0u64, 0u64);
    let mut sent = 0u64;
    let mut timeouts = 0u64;
    let mut hup = false;
    'outer: while !stopped() && (n == 0 || sent < n) {
        rep.tick();
        // Send one frame.
        let mut idle = Idle::new(args.busy);
        loop {
            if stopped() {
                break 'outer;
            }
            let Some(mut ring) = or_report(port.tx_ring(0)) else {
                return false;
            };
            if ring.space() > 0 {
                let cur = ring.cur();
                let Some(buf) = ring.buf_mut(cur) else {
                    eprintln!("pkt-gen: {}", bad_slot(&ring, cur));
                    return false;
                };
                let len = generator.fill(buf, sent);
                let _ = ring.set_len(cur, len as u16);
                let _ = ring.set_flags(cur, 0);
                ring.advance_to(ring.next(cur));
                break;
            }
            let _ = port.txsync();
            if idle.should_sleep() && wait_port(port, POLLOUT, idle.timeout()) & POLLHUP != 0 {
                hup = true;
                break 'outer;
            }
        }
        if let Err(e) = port.txsync() {
            eprintln!("pkt-gen: txsync: {e}");
            return false;
        }
        let t0 = Instant::now();
        let seq = sent;
        sent += 1;
        // Wait for its reflection (1 s at most).
        let mut idle = Idle::new(args.busy);
        loop {
            if stopped() {
                break 'outer;
            }
            let _ = port.rxsync();
            let Some(ring) = or_report(port.rx_ring(0)) else {
                return false;
            };
            let mut head = ring.head();
            let mut found = None;
            let mut bytes = 0;
            while head != ring.tail() {
                let Some(pkt) = ring.packet(head) else {
                    eprintln!("pkt-gen: {}", bad_slot(&ring, head));
                    return false;
                };
                bytes += pkt.len() as u64;
                if v.check(pkt, None) == Some(seq) {
                    found = Some(t0.elapsed());
                }
                head = ring.next(head);
            }
            ring.advance_to(head);
            if let Some(rtt) = found {
                let us = rtt.as_nanos() as u64;
                rtt_min = rtt_min.min(us);
                rtt_max = rtt_max.max(us);
                rtt_sum += us;
                replies += 1;
                rep.batch(1, bytes, 1);
                break;
            }
            if t0.elapsed() > Duration::from_secs(1) {
                timeouts += 1;
                break;
            }
            if idle.should_sleep() {
                let rev = wait_port(port, POLLIN, idle.timeout());
                if rev & POLLHUP != 0 {
                    hup = true;
                    break 'outer;
                }
            }
        }
    }
    let (pkts, bytes, events, secs) = rep.finish();
    if hup {
        println!("Peer gone: stopping.");
    }
    println!("Sent {sent} packets, {replies} replies, {timeouts} timeouts.");
    let each = bytes.checked_div(pkts).unwrap_or(0);
    println!(
        "Received {pkts} packets {bytes} bytes {events} events {each} bytes each in {secs:.2} seconds."
    );
    println!("{}", speed_line(pkts, bytes, events, secs));
    if replies > 0 {
        println!(
            "RTT min/avg/max = {:.3}/{:.3}/{:.3} us",
            rtt_min as f64 / 1e3,
            rtt_sum as f64 / replies as f64 / 1e3,
            rtt_max as f64 / 1e3
        );
    }
    if v.corrupt > 0 {
        println!("Corrupt replies: {}", v.corrupt);
    }
    v.corrupt == 0 && (n == 0 || replies == n)
}

/// Zero-copy: swaps the buffers of `rx`'s slot `head` and `tx`'s slot
/// `cur` (one port, one region), then reflects the frame in place. The
/// frame's length, or `None` if a slot names no valid buffer.
fn reflect(rx: &Ring, tx: &mut Ring, head: u32, cur: u32) -> Option<u16> {
    let (rs, ts) = (rx.slot(head)?, tx.slot(cur)?);
    rx.set_buf_idx(head, ts.buf_idx).ok()?;
    rx.set_flags(head, rs.flags | NS_BUF_CHANGED).ok()?;
    tx.set_buf_idx(cur, rs.buf_idx).ok()?;
    tx.set_len(cur, rs.len).ok()?;
    tx.set_flags(cur, NS_BUF_CHANGED).ok()?;
    let f = tx.buf_mut(cur)?.get_mut(..rs.len as usize)?;
    if f.len() >= UDP_OFF + 4 {
        for i in 0..6 {
            f.swap(i, 6 + i);
        }
        for i in 0..4 {
            f.swap(26 + i, 30 + i);
        }
        for i in 0..2 {
            f.swap(34 + i, 36 + i);
        }
    }
    Some(rs.len)
}

fn pong(args: &Args, port: &mut Port) -> bool {
    let n = args.count;
    let mut rep = Reporter::new(args.report_ms);
    let mut received = 0u64;
    let mut idle = Idle::new(args.busy);
    let mut seen_peer = port.peer_alive();
    let mut hup = false;
    while !stopped() && (n == 0 || received < n) {
        rep.tick();
        if let Err(e) = port.rxsync().and_then(|_| port.txsync()) {
            eprintln!("pkt-gen: sync: {e}");
            return false;
        }
        let (Some(rx), Some(mut tx)) = (or_report(port.rx_ring(0)), or_report(port.tx_ring(0)))
        else {
            return false;
        };
        let mut k = rx.space().min(tx.space());
        if n > 0 {
            k = k.min((n - received) as u32);
        }
        let (mut head, mut cur) = (rx.head(), tx.cur());
        if received == 0 && k > 0 {
            rep.restart();
        }
        let mut bytes = 0u64;
        let mut done = 0;
        while done < k {
            let Some(len) = reflect(&rx, &mut tx, head, cur) else {
                eprintln!(
                    "pkt-gen: {} slot {head} or {} slot {cur} names no valid buffer (the shared \
                     ring was written by another process)",
                    rx.id(),
                    tx.id()
                );
                return false;
            };
            bytes += len as u64;
            head = rx.next(head);
            cur = tx.next(cur);
            done += 1;
        }
        rx.advance_to(head);
        tx.advance_to(cur);
        if k > 0 {
            received += k as u64;
            rep.batch(k as u64, bytes, k);
            idle.reset();
            continue;
        }
        if hup {
            break;
        }
        if idle.should_sleep() {
            let rev = wait_port(port, POLLIN, idle.timeout());
            seen_peer |= port.peer_alive();
            if rev & POLLHUP != 0 && (seen_peer || received > 0) {
                hup = true;
            }
        }
    }
    let _ = port.txsync();
    let _ = port.rxsync();
    let (pkts, bytes, events, secs) = rep.finish();
    if hup {
        println!("Peer gone: stopping.");
    }
    let each = bytes.checked_div(pkts).unwrap_or(0);
    println!(
        "Received {pkts} packets {bytes} bytes {events} events {each} bytes each in {secs:.2} seconds."
    );
    println!("{}", speed_line(pkts, bytes, events, secs));
    n == 0 || received == n
}

fn main() -> ExitCode {
    env_logger::init();
    let mut args = Args::parse();
    common::install_signal_handlers();
    let mut port = common::open_port("pkt-gen", &args.interface);
    args.src_mac = args
        .src_mac_arg
        .or_else(|| port.nic_info().map(|info| info.mac))
        .unwrap_or([0; 6]);
    let lens = args.length.unwrap_or(LenSpec { min: 60, max: 60 });
    if let Err(why) = rings_for(args.function, &port) {
        eprintln!("pkt-gen: {why}");
        return ExitCode::from(2);
    }
    let buf_size = port.region().buf_size() as usize;
    if lens.max > buf_size {
        eprintln!(
            "pkt-gen: frames of {} bytes do not fit buffers of {buf_size} bytes",
            lens.max
        );
        return ExitCode::from(2);
    }
    println!(
        "pkt-gen: {} on {} ({} tx / {} rx rings), burst {}, length {}",
        args.function
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        port.name(),
        port.num_tx_rings(),
        port.num_rx_rings(),
        args.burst,
        lens.describe()
    );
    let ok = match args.function {
        Function::Tx => tx(&args, &mut port, lens),
        Function::Rx => rx(&args, &mut port),
        Function::Ping => ping(&args, &mut port, lens),
        Function::Pong => pong(&args, &mut port),
        Function::Txrx => txrx(&args, &mut port, lens),
    };
    let mut ok = ok;
    if let Some(info) = port.nic_info() {
        print_nic_info(&info);
        // Model ports count the frames sent while their cable's far end
        // was not there: lost, so the run failed.
        if let Some(lost) = info.counter("wire_lost").filter(|&n| n > 0) {
            println!(
                "Wire lost: {lost} frame(s) sent while nothing was plugged in at the cable's far \
                 end (start the receiver first; -w waits for it)"
            );
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether `port` has the rings `function` needs: tx sends (TX rings),
/// rx receives (RX rings), the others do both. A port opened `/R` (RX
/// rings only) or `/T` (TX rings only) cannot serve the other direction:
/// say so at once rather than wait for frames that cannot come.
fn rings_for(function: Function, port: &Port) -> Result<(), String> {
    let (tx, rx) = match function {
        Function::Tx => (true, false),
        Function::Rx => (false, true),
        Function::Ping | Function::Pong | Function::Txrx => (true, true),
    };
    let name = port.name();
    let f = function
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    if tx && port.num_tx_rings() == 0 {
        return Err(format!(
            "-f {f} transmits, but `{name}` has no TX rings (it was opened `/R`, RX rings \
             only): open it without `/R`, or use -f rx"
        ));
    }
    if rx && port.num_rx_rings() == 0 {
        return Err(format!(
            "-f {f} receives, but `{name}` has no RX rings (it was opened `/T`, TX rings \
             only): open it without `/T`, or use -f tx"
        ));
    }
    Ok(())
}

/// The hardware's view, for NIC ports: compare with what pkt-gen counted.
fn print_nic_info(info: &vfio_netmap::api::NicInfo) {
    let link = match (info.link_up, info.speed) {
        (true, Some(s)) => format!("up {s} Mb/s"),
        (true, None) => "up".to_string(),
        _ => "down".to_string(),
    };
    println!("NIC: {} mac {} link {link}", info.model, info.mac_string());
    let counters: Vec<String> = info
        .counters
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    println!("NIC counters: {}", counters.join(" "));
}
