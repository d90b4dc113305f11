//! nic-cycle: opens and closes NIC ports many times in one process and
//! checks that nothing accumulates (file descriptors, memory mappings,
//! locked memory) and that every reopened device works.
//!
//! `nic-cycle -n 100 -i vfio:0000:00:02.0 -i vfio:0000:00:03.0`: each cycle
//! opens every port; with two or more ports the first sends one frame
//! (carrying the cycle number) to the second's MAC and the second must
//! receive it (every `-k` cycles); then all ports close. Counts are taken after the first cycle
//! (which initializes what lives for the whole process) and after the last;
//! any growth is a leak and the exit status is 1.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use vfio_netmap::api::Port;

#[derive(Parser, Debug)]
#[command(
    name = "nic-cycle",
    version,
    about = "Open/close NIC ports in a loop and check for leaks"
)]
struct Args {
    /// NIC port (repeatable), e.g. `vfio:0000:00:02.0@conf:slots=1024`.
    #[arg(short = 'i', long = "interface", value_name = "PORT", action = clap::ArgAction::Append, required = true)]
    ports: Vec<String>,
    /// Open/close cycles.
    #[arg(short = 'n', long = "cycles", default_value_t = 100)]
    cycles: u32,
    /// Send the test frame in every K-th cycle (and the first and last):
    /// QEMU's e1000 holds back reception for 1 s after RCTL is written, so
    /// each checked cycle costs a second there.
    #[arg(short = 'k', long = "check-every", default_value_t = 1)]
    check_every: u32,
}

/// What a leak would grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Usage {
    fds: usize,
    maps: usize,
    vm_lck_kib: u64,
    vm_pin_kib: u64,
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn usage() -> Usage {
    Usage {
        fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()),
        maps: std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count()),
        vm_lck_kib: status_kib("VmLck"),
        vm_pin_kib: status_kib("VmPin"),
    }
}

const ETHERTYPE: [u8; 2] = [0x88, 0xb5]; // local experimental

/// Time spent per phase, summed over cycles.
#[derive(Default)]
struct Phases {
    open: Duration,
    link: Duration,
    frame: Duration,
    close: Duration,
}

/// Sends frame number `cycle` from `ports[0]` to `ports[1]`; whether it
/// arrived within 2 s.
fn send_one(ports: &mut [Port], cycle: u32) -> Result<bool, String> {
    let dst = ports[1].nic_info().map(|i| i.mac).unwrap_or([0xff; 6]);
    let src = ports[0].nic_info().map(|i| i.mac).unwrap_or([0; 6]);
    {
        let mut tx = ports[0].tx_ring(0).map_err(|e| e.to_string())?;
        let cur = tx.cur();
        let buf = tx
            .buf_mut(cur)
            .expect("a TX slot we own names a valid buffer");
        buf[..60].fill(0);
        buf[0..6].copy_from_slice(&dst);
        buf[6..12].copy_from_slice(&src);
        buf[12..14].copy_from_slice(&ETHERTYPE);
        buf[14..18].copy_from_slice(&cycle.to_le_bytes());
        tx.set_len(cur, 60).map_err(|e| e.to_string())?;
        tx.set_flags(cur, 0).map_err(|e| e.to_string())?;
        tx.advance_to(tx.next(cur));
    }
    ports[0].txsync().map_err(|e| format!("txsync: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut found = false;
    while !found && Instant::now() < deadline {
        ports[1].rxsync().map_err(|e| format!("rxsync: {e}"))?;
        let rx = ports[1].rx_ring(0).map_err(|e| e.to_string())?;
        let mut head = rx.head();
        while head != rx.tail() {
            let pkt = rx
                .packet(head)
                .expect("an RX slot we own names a valid buffer");
            if pkt.len() >= 18 && pkt[12..14] == ETHERTYPE {
                let got = u32::from_le_bytes(pkt[14..18].try_into().unwrap());
                if got == cycle {
                    found = true;
                } else {
                    eprintln!("cycle {cycle}: a frame of cycle {got} came");
                }
            }
            head = rx.next(head);
        }
        rx.advance_to(head);
    }
    let _ = ports[0].txsync();
    Ok(found)
}

/// One cycle: open all, send frame `cycle` from the first port to the
/// second, close all. Returns the usage while the ports were open, or an
/// error message.
fn cycle(args: &Args, cycle: u32, t: &mut Phases) -> Result<Usage, String> {
    let mut ports = Vec::new();
    let t0 = Instant::now();
    for name in &args.ports {
        ports.push(
            vfio_netmap::ports::open(name)
                .map_err(|e| format!("cycle {cycle}: open {name}: {e}"))?,
        );
    }
    let t1 = Instant::now();
    t.open += t1 - t0;
    let open_usage = usage();
    let check = cycle == 1 || cycle == args.cycles || cycle % args.check_every.max(1) == 0;
    if ports.len() >= 2 && check {
        // The reset restarts the links.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(ports[0].peer_alive() && ports[1].peer_alive()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let t2 = Instant::now();
        t.link += t2 - t1;
        let found = send_one(&mut ports, cycle).map_err(|e| format!("cycle {cycle}: {e}"))?;
        t.frame += t2.elapsed();
        if !found {
            return Err(format!(
                "cycle {cycle}: the frame sent from {} did not arrive at {} within 2 s",
                args.ports[0], args.ports[1]
            ));
        }
    }
    let t3 = Instant::now();
    drop(ports);
    t.close += t3.elapsed();
    Ok(open_usage)
}

fn show(what: &str, u: &Usage) {
    println!(
        "{what}: fds {} maps {} VmLck {} kB VmPin {} kB",
        u.fds, u.maps, u.vm_lck_kib, u.vm_pin_kib
    );
}

fn main() -> ExitCode {
    env_logger::init();
    let args = Args::parse();
    let n = args.cycles.max(1);
    let t0 = Instant::now();
    let mut phases = Phases::default();
    let (mut first, mut first_open, mut last_open) = (None, None, None);
    for c in 1..=n {
        match cycle(&args, c, &mut phases) {
            Ok(u) => {
                first_open.get_or_insert(u);
                last_open = Some(u);
            }
            Err(e) => {
                eprintln!("nic-cycle: {e}");
                return ExitCode::FAILURE;
            }
        }
        if c == 1 {
            first = Some(usage());
        }
    }
    let last = usage();
    let secs = t0.elapsed().as_secs_f64();
    let (first, first_open, last_open) = (first.unwrap(), first_open.unwrap(), last_open.unwrap());
    show("open, cycle 1", &first_open);
    show(&format!("open, cycle {n}"), &last_open);
    show("closed, after cycle 1", &first);
    show(&format!("closed, after cycle {n}"), &last);
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / n as f64;
    println!(
        "{n} cycles of {} port(s) in {secs:.2} s; per cycle: open {:.1} ms, link {:.1} ms, frame {:.1} ms, close {:.1} ms",
        args.ports.len(),
        ms(phases.open),
        ms(phases.link),
        ms(phases.frame),
        ms(phases.close)
    );
    if first != last || first_open != last_open {
        println!("LEAK: usage grew");
        return ExitCode::FAILURE;
    }
    println!("no growth");
    ExitCode::SUCCESS
}
