//! bridge: forwards packets both ways between two ports, like netmap's
//! `bridge`. Zero-copy (buffer swaps) when both ports live in one memory
//! region, copying otherwise.
//!
//! `bridge -i netmap:x}0 -i netmap:x{1`

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{Idle, POLL_SLICE, stopped};
use vfio_netmap::abi::slot_flags::{NS_BUF_CHANGED, NS_MOREFRAG};
use vfio_netmap::api::poll::{POLLHUP, POLLIN, POLLOUT, PollItem, poll};
use vfio_netmap::api::{ApiError, Port, Ring};

/// netmap's bridge for vfio-netmap ports: forwards between two ports.
#[derive(Parser, Debug)]
#[command(
    name = "bridge",
    version,
    about = "Forward packets both ways between two vfio-netmap ports (zero-copy when they share memory)",
    after_help = common::help_with_port_names(
        "Examples:\n  bridge -i 'netmap:x}0' -i 'netmap:x{1'\n  \
         bridge -i vfio:0000:00:03.0 -i vfio:0000:00:04.0   (zero-copy: one memory region)\n\n\
         netmap's single-port form (`-i A`: A and its host rings) is not supported."
    )
)]
struct Args {
    /// Port to bridge; give it twice (`-i A -i B`). A bare name gets
    /// `netmap:` prepended.
    #[arg(short = 'i', long = "interface", value_name = "PORT", action = clap::ArgAction::Append, required = true)]
    ports: Vec<String>,
    /// Most packets moved per ring per round.
    #[arg(short = 'b', long = "burst", default_value_t = 512)]
    burst: u32,
    /// Report interval in milliseconds (values beyond 2^40, 35 years,
    /// count as 2^40: no report).
    #[arg(short = 'T', long = "report-ms", default_value_t = 1000)]
    report_ms: u64,
    /// Seconds to wait for the link (accepted for compatibility; pipes need
    /// no wait: the bridge forwards as soon as peers show up).
    #[arg(short = 'w', long = "wait-link", default_value_t = 0)]
    wait_link: u64,
}

/// Moves up to `burst` packets from `src`'s RX rings to `dst`'s TX rings.
/// A slot that names no valid buffer (only another process writing into
/// the shared ring can cause it) ends the bridge with an error.
fn forward(src: &Port, dst: &Port, zero_copy: bool, burst: u32) -> Result<(u64, u64), String> {
    let (mut pkts, mut bytes) = (0u64, 0u64);
    let mut budget = burst;
    let mut ti = 0;
    for ri in 0..src.num_rx_rings() {
        let Ok(rx) = src.rx_ring(ri) else { break };
        while budget > 0 && !rx.is_empty() {
            let Ok(mut tx) = dst.tx_ring(ti) else { break };
            let k = rx.space().min(tx.space()).min(budget);
            if k == 0 {
                ti += 1;
                continue;
            }
            let (mut head, mut cur) = (rx.head(), tx.cur());
            let mut moved = 0;
            while moved < k {
                let Some(len) = move_slot(&rx, &mut tx, head, cur, zero_copy) else {
                    break;
                };
                bytes += len as u64;
                head = rx.next(head);
                cur = tx.next(cur);
                moved += 1;
            }
            rx.advance_to(head);
            tx.advance_to(cur);
            pkts += moved as u64;
            budget -= moved;
            if moved < k {
                return Err(format!(
                    "{} slot {head} or {} slot {cur} names no valid buffer (the shared ring was \
                     written by another process)",
                    rx.id(),
                    tx.id()
                ));
            }
        }
    }
    Ok((pkts, bytes))
}

/// Moves the packet in `rx`'s slot `head` to `tx`'s slot `cur`, by
/// swapping buffers or by copying; its length, or `None` if a slot names
/// no valid buffer.
fn move_slot(rx: &Ring, tx: &mut Ring, head: u32, cur: u32, zero_copy: bool) -> Option<u16> {
    let rs = rx.slot(head)?;
    let frag = rs.flags & NS_MOREFRAG;
    if zero_copy {
        let ts = tx.slot(cur)?;
        tx.set_buf_idx(cur, rs.buf_idx).ok()?;
        tx.set_flags(cur, NS_BUF_CHANGED | frag).ok()?;
        tx.set_len(cur, rs.len).ok()?;
        rx.set_buf_idx(head, ts.buf_idx).ok()?;
        rx.set_flags(head, rs.flags | NS_BUF_CHANGED).ok()?;
        Some(rs.len)
    } else {
        let src_buf = rx.packet(head)?;
        let dst_buf = tx.buf_mut(cur)?;
        let len = src_buf.len().min(dst_buf.len());
        dst_buf[..len].copy_from_slice(&src_buf[..len]);
        tx.set_len(cur, len as u16).ok()?;
        tx.set_flags(cur, frag).ok()?;
        Some(len as u16)
    }
}

fn has_rx(p: &Port) -> bool {
    (0..p.num_rx_rings()).any(|i| p.rx_ring(i).is_ok_and(|r| !r.is_empty()))
}

fn rate(pkts: u64, d: Duration) -> f64 {
    pkts as f64 / d.as_secs_f64().max(1e-9) / 1e6
}

fn main() -> ExitCode {
    env_logger::init();
    let args = Args::parse();
    if args.ports.len() != 2 {
        if args.ports.len() == 1 {
            eprintln!(
                "bridge: only one port given ({}): netmap's single-port form, bridging a port with its host \
                 rings, is not supported; give two ports: -i A -i B",
                args.ports[0]
            );
        } else {
            eprintln!(
                "bridge: give exactly two ports (-i A -i B), got {}",
                args.ports.len()
            );
        }
        return ExitCode::from(2);
    }
    common::install_signal_handlers();
    let mut ports = [
        common::open_port("bridge", &args.ports[0]),
        common::open_port("bridge", &args.ports[1]),
    ];
    let zero_copy = ports[0].shares_region_with(&ports[1]);
    println!(
        "bridge: {} <-> {}, {}, burst {}",
        ports[0].name(),
        ports[1].name(),
        if zero_copy {
            "zero-copy (shared memory region)"
        } else {
            "copying (separate memory regions)"
        },
        args.burst
    );
    if args.wait_link > 0 {
        for p in &ports {
            common::wait_for_link(p, args.wait_link);
        }
    }
    let burst = args.burst.max(1);
    let start = Instant::now();
    let interval = common::report_interval(args.report_ms);
    let (mut last, mut last_counts) = (start, [0u64; 2]);
    let mut counts = [0u64; 2]; // [A->B, B->A]
    let mut seen = [ports[0].peer_alive(), ports[1].peer_alive()];
    let mut gone = [false; 2];
    let mut idle = Idle::default();
    let mut failed = false;
    while !stopped() {
        let now = Instant::now();
        if now.duration_since(last) >= interval {
            let d = now.duration_since(last);
            println!(
                "A->B: {} pkts ({:.3} Mpps)  B->A: {} pkts ({:.3} Mpps)",
                counts[0],
                rate(counts[0] - last_counts[0], d),
                counts[1],
                rate(counts[1] - last_counts[1], d)
            );
            (last, last_counts) = (now, counts);
        }
        let synced = ports[0].rxsync().and_then(|_| ports[1].rxsync());
        if let Err(e) = synced {
            eprintln!("bridge: rxsync: {e}");
            failed = true;
            break;
        }
        let moved = forward(&ports[0], &ports[1], zero_copy, burst)
            .and_then(|(ab, _)| Ok((ab, forward(&ports[1], &ports[0], zero_copy, burst)?.0)));
        let (ab, ba) = match moved {
            Ok(counts) => counts,
            Err(e) => {
                eprintln!("bridge: {e}");
                failed = true;
                break;
            }
        };
        let mut synced = Ok(());
        if ab > 0 {
            synced = synced.and_then(|_| ports[1].txsync());
        }
        if ba > 0 {
            synced = synced.and_then(|_| ports[0].txsync());
        }
        if let Err(e) = synced {
            eprintln!("bridge: txsync: {e}");
            failed = true;
            break;
        }
        counts[0] += ab;
        counts[1] += ba;
        if ab + ba > 0 {
            seen[0] |= ab > 0;
            seen[1] |= ba > 0;
            idle.reset();
            continue;
        }
        // Nothing moved. Once a side's peer is gone and what it sent has
        // been forwarded (or can go nowhere), stop.
        let drained = |i: usize| !has_rx(&ports[i]) || gone[1 - i];
        if (gone[0] && drained(0)) || (gone[1] && drained(1)) {
            break;
        }
        if idle.should_sleep() {
            // Wait for packets on a side whose RX ring is empty, or for room
            // on the other side when packets are waiting for it.
            let pending = [has_rx(&ports[0]), has_rx(&ports[1])];
            let [pa, pb] = &mut ports;
            let mut items = [PollItem::new(pa, 0), PollItem::new(pb, 0)];
            for i in 0..2 {
                if pending[i] {
                    items[1 - i].events |= POLLOUT;
                } else {
                    items[i].events |= POLLIN;
                }
            }
            match poll(&mut items, Some(POLL_SLICE)) {
                Ok(_) => {}
                // SIGINT/SIGTERM: the loop ends on `stopped()`.
                Err(ApiError::Interrupted) => continue,
                Err(e) => {
                    eprintln!("bridge: poll: {e}");
                    failed = true;
                    break;
                }
            }
            let revents = [items[0].revents, items[1].revents];
            for i in 0..2 {
                seen[i] |= ports[i].peer_alive();
                if revents[i] & POLLHUP != 0 && seen[i] && !gone[i] {
                    gone[i] = true;
                    println!("bridge: peer of {} gone", ports[i].name());
                }
            }
        }
    }
    // Return the last slots (and swapped buffers) to the peers; a NIC
    // sends what is queued before it closes (closing resets it).
    for p in ports.iter_mut() {
        let _ = p.rxsync();
        let _ = p.txsync();
        let Some(_) = p.nic_info() else { continue };
        let unsent = common::drain_tx(p);
        if unsent > 0 {
            println!(
                "bridge: {unsent} frame(s) still in the TX ring of {}, lost as the port closes: \
                 the device took none for {:?} (a receiver holding a flow-controlled link back, \
                 a link down)",
                p.name(),
                common::DRAIN_STALL
            );
            failed = true;
        }
        // Model ports count the frames sent while their cable's far end
        // was not there.
        let lost = p.nic_info().and_then(|i| i.counter("wire_lost"));
        if let Some(lost) = lost.filter(|&n| n > 0) {
            println!(
                "bridge: {lost} frame(s) lost on the cable of {}: sent while nothing was plugged \
                 in at its far end",
                p.name()
            );
            failed = true;
        }
    }
    let d = start.elapsed();
    println!(
        "Total A->B: {} pkts ({:.3} Mpps)  B->A: {} pkts ({:.3} Mpps) in {:.2} seconds",
        counts[0],
        rate(counts[0], d),
        counts[1],
        rate(counts[1], d),
        d.as_secs_f64()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
