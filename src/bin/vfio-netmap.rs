//! `vfio-netmap`: bind NICs to vfio-pci and inspect them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vfio_netmap::driver::bind::{self, BindOptions};
use vfio_netmap::driver::{DriverError, Host, PciAddr, info, pci, status};

#[derive(Parser, Debug)]
#[command(
    name = "vfio-netmap",
    version,
    about = "Bind network cards to vfio-pci for vfio-netmap's userspace drivers, and inspect them",
    long_about = "Bind network cards to vfio-pci for vfio-netmap's userspace drivers, and inspect them.\n\n\
                  Set RUST_LOG=debug for a trace of every sysfs write and VFIO call.",
    after_help = "Typical use: `vfio-netmap status`, then `sudo vfio-netmap bind --user $USER 0000:00:03.0`, \
                  run your application, and `sudo vfio-netmap unbind 0000:00:03.0` to give the NIC back to the kernel."
)]
struct Cli {
    /// Treat DIR as the root of a fake system (DIR/sys, DIR/proc, DIR/dev/vfio,
    /// DIR/run/vfio-netmap) instead of the real one. For tests.
    #[arg(long, global = true, value_name = "DIR", hide = true)]
    host_root: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List network devices: on vfio-pci, on a kernel driver, or unbound.
    #[command(
        long_about = "List network devices (PCI class 02), grouped like dpdk-devbind's status: \
        bound to vfio-pci, on a kernel driver, and other (no driver).\n\n\
        Each line shows the address, the model (if vfio-netmap supports it) and vendor:device ids, \
        the kernel interface (if=), the driver (drv=), the IOMMU group and whether VFIO can use it \
        (a group is viable when no member is on a host driver), the NUMA node, and *Active* when \
        the interface carries IPv4/IPv6 routes, i.e. binding it would cut the host off a network."
    )]
    Status {
        /// Print JSON ({"devices":[...]}) for scripts instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Give devices to vfio-pci (needs root).
    #[command(
        long_about = "Give devices to vfio-pci so vfio-netmap can drive them (needs root).\n\n\
        For each address: sets driver_override to vfio-pci, unbinds the current driver, and asks the \
        kernel to probe again; loads vfio-pci with modprobe if needed. The previous driver is \
        remembered in /run/vfio-netmap/ADDR.prev-driver so `unbind` can restore it.\n\n\
        Refuses (changing nothing) when an interface carries routes (use --force), when the device \
        has no IOMMU group (the IOMMU is off), or when another member of its IOMMU group is still on \
        a host driver (bind them together in one command)."
    )]
    Bind {
        /// PCI addresses, DDDD:BB:DD.F or BB:DD.F.
        #[arg(required = true, value_name = "ADDR")]
        addrs: Vec<PciAddr>,
        /// Bind even if the device's interface carries routes (you may lose connectivity).
        #[arg(long)]
        force: bool,
        /// Make /dev/vfio/N owned by this user (name or uid), so it can run vfio-netmap without root.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Make /dev/vfio/N owned by this group (name or gid).
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
    },

    /// Give devices back to their kernel driver (needs root).
    #[command(long_about = "Give devices back to the kernel (needs root).\n\n\
        Clears driver_override, unbinds vfio-pci and rebinds the driver the device had before \
        `bind` (from /run/vfio-netmap), or lets the kernel pick its default driver if none was \
        remembered. Devices not on vfio-pci are left alone.")]
    Unbind {
        /// PCI addresses, DDDD:BB:DD.F or BB:DD.F.
        #[arg(required = true, value_name = "ADDR")]
        addrs: Vec<PciAddr>,
    },

    /// Show BARs, interrupts, reset support, IOMMU group and what VFIO reports.
    #[command(
        long_about = "Show what is known about one device: BARs (sysfs resource), interrupt \
        capabilities (INTx, MSI and MSI-X vector counts from config space), reset support, the IOMMU \
        group and its members. For a device bound to vfio-pci it also opens the device through VFIO \
        and shows the regions, interrupt indexes and reset flag VFIO reports, and the usable IOVA \
        ranges of the IOMMU. Reading all of config space and opening VFIO need root (or a \
        /dev/vfio/N given to you with `bind --user`)."
    )]
    Info {
        /// PCI address, DDDD:BB:DD.F or BB:DD.F.
        addr: PciAddr,
        /// Do not open the device through VFIO even if it is on vfio-pci.
        #[arg(long)]
        no_vfio: bool,
    },

    /// Run an unmodified netmap program on our ports (/dev/netmap in userspace).
    #[command(
        long_about = "Run a netmap C program with /dev/netmap served in its own process by \
        libvfio_netmap_preload.so (found next to this binary, as `cargo build --release` \
        leaves it in target/release/), set in LD_PRELOAD. The program's port names are ours: \
        `netmap:p{0` (pipes), `netmap:vfio:0000:03:00.0` (NICs bound to vfio-pci). Example: \
        `vfio-netmap exec -- ./my-netmap-app netmap:p{0`."
    )]
    Exec {
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
}

/// The preload library's file name (a `cdylib` of the `preload/` crate).
const PRELOAD_LIB: &str = "libvfio_netmap_preload.so";

/// Replaces this process with `command` under LD_PRELOAD of the preload
/// library next to this binary; returns only on failure.
fn exec(command: &[std::ffi::OsString]) -> String {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return format!("cannot find this program's path to locate {PRELOAD_LIB}: {e}"),
    };
    let lib = exe.with_file_name(PRELOAD_LIB);
    if !lib.is_file() {
        return format!(
            "{} is missing: build it with `cargo build --release` at the repository's root (the \
             workspace builds the preload crate next to this binary)",
            lib.display()
        );
    }
    let mut preload = lib.into_os_string();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(":");
        preload.push(old);
    }
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("LD_PRELOAD", preload)
        .exec();
    format!("cannot run `{}`: {err}", command[0].to_string_lossy())
}

fn host(cli: &Cli) -> Host {
    match &cli.host_root {
        Some(root) => Host::under(root),
        None => Host::system(),
    }
}

/// Root is only required on the real system; a fake tree belongs to the caller.
fn require_root(cli: &Cli, action: &str) -> Result<(), DriverError> {
    if cli.host_root.is_some() {
        Ok(())
    } else {
        bind::require_root(action, bind::effective_uid())
    }
}

fn run(cli: &Cli) -> Result<(), DriverError> {
    let host = host(cli);
    match &cli.command {
        Command::Status { json } => {
            let devices = pci::network_devices(&host)?;
            if *json {
                println!("{}", status::render_json(&devices));
            } else {
                print!("{}", status::render_text(&devices));
            }
        }
        Command::Bind {
            addrs,
            force,
            user,
            group,
        } => {
            require_root(cli, "bind")?;
            let owner = bind::resolve_owner(user.as_deref(), group.as_deref())?;
            let options = BindOptions {
                force: *force,
                owner,
            };
            for outcome in bind::bind(&host, addrs, &options)? {
                match (&outcome.previous_driver, outcome.already_bound) {
                    (_, true) => println!(
                        "{}: already on vfio-pci (group {})",
                        outcome.addr, outcome.group
                    ),
                    (Some(prev), _) => println!(
                        "{}: {prev} -> vfio-pci (group {})",
                        outcome.addr, outcome.group
                    ),
                    (None, _) => println!(
                        "{}: (no driver) -> vfio-pci (group {})",
                        outcome.addr, outcome.group
                    ),
                }
            }
        }
        Command::Unbind { addrs } => {
            require_root(cli, "unbind")?;
            for outcome in bind::unbind(&host, addrs)? {
                let now = outcome.driver_now.as_deref().unwrap_or("no driver");
                if outcome.was_on_vfio {
                    println!("{}: vfio-pci -> {now}", outcome.addr);
                } else {
                    println!("{}: not on vfio-pci (on {now}), left alone", outcome.addr);
                }
            }
        }
        Command::Info { addr, no_vfio } => {
            let report = info::gather(&host, *addr, !*no_vfio)?;
            print!("{}", info::render_text(&report));
        }
        // Handled in main, before anything else.
        Command::Exec { .. } => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    if let Command::Exec { command } = &cli.command {
        eprintln!("vfio-netmap exec: {}", exec(command));
        return ExitCode::FAILURE;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vfio-netmap: {e}");
            ExitCode::FAILURE
        }
    }
}
