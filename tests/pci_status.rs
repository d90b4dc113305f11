//! `status` grouping, JSON output (checked with a small parser), and the
//! `vfio-netmap` binary run against fake trees.

use std::collections::BTreeMap;
use std::process::Command;

use vfio_netmap::driver::fake_host::{FakeDevice, FakeHost};
use vfio_netmap::driver::json::Json;
use vfio_netmap::driver::{info, pci, status};

/// A minimal JSON parser: enough to check that our output is valid JSON and
/// to look at its structure.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(BTreeMap<String, Value>),
}

impl Value {
    fn get(&self, key: &str) -> &Value {
        match self {
            Value::Obj(m) => m
                .get(key)
                .unwrap_or_else(|| panic!("no key {key} in {self:?}")),
            _ => panic!("not an object: {self:?}"),
        }
    }
    fn arr(&self) -> &[Value] {
        match self {
            Value::Arr(a) => a,
            _ => panic!("not an array: {self:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {} at {}", c as char, self.i))
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i).copied() {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Obj(m));
                }
                loop {
                    self.ws();
                    let Value::Str(k) = self.value()? else {
                        return Err("key not a string".into());
                    };
                    self.eat(b':')?;
                    let v = self.value()?;
                    if m.insert(k.clone(), v).is_some() {
                        return Err(format!("duplicate key {k}"));
                    }
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(m));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(a));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = *self.s.get(self.i).ok_or("unterminated string")?;
                    self.i += 1;
                    match c {
                        b'"' => return Ok(Value::Str(out)),
                        b'\\' => {
                            let e = *self.s.get(self.i).ok_or("bad escape")?;
                            self.i += 1;
                            match e {
                                b'"' => out.push('"'),
                                b'\\' => out.push('\\'),
                                b'/' => out.push('/'),
                                b'n' => out.push('\n'),
                                b'r' => out.push('\r'),
                                b't' => out.push('\t'),
                                b'b' => out.push('\u{8}'),
                                b'f' => out.push('\u{c}'),
                                b'u' => {
                                    let hex = std::str::from_utf8(&self.s[self.i..self.i + 4])
                                        .map_err(|e| e.to_string())?;
                                    out.push(
                                        char::from_u32(
                                            u32::from_str_radix(hex, 16)
                                                .map_err(|e| e.to_string())?,
                                        )
                                        .ok_or("bad \\u")?,
                                    );
                                    self.i += 4;
                                }
                                _ => return Err("unknown escape".into()),
                            }
                        }
                        c if c < 0x20 => return Err("raw control character in string".into()),
                        _ => {
                            // Copy the whole UTF-8 sequence.
                            let start = self.i - 1;
                            let len = match c {
                                0xf0.. => 4,
                                0xe0.. => 3,
                                0xc0.. => 2,
                                _ => 1,
                            };
                            out.push_str(
                                std::str::from_utf8(&self.s[start..start + len])
                                    .map_err(|e| e.to_string())?,
                            );
                            self.i = start + len;
                        }
                    }
                }
            }
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Value::Null)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i] == b'-' || self.s[self.i].is_ascii_digit())
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                text.parse()
                    .map(Value::Num)
                    .map_err(|e| format!("{text}: {e}"))
            }
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }
}

fn lab_host() -> FakeHost {
    let fake = FakeHost::new("status");
    let mut a = FakeDevice::e1000("0000:00:02.0", 3);
    a.driver = Some("vfio-pci");
    fake.add_device(&a);
    let mut b = FakeDevice::e1000("0000:00:03.0", 4);
    b.device = 0x10d3;
    b.driver = Some("e1000e");
    b.interfaces = vec!["eth1"];
    b.numa_node = 1;
    fake.add_device(&b);
    let mut c = FakeDevice::e1000("0000:00:04.0", 4);
    c.vendor = 0x10ec;
    c.device = 0x8139;
    c.driver = None;
    fake.add_device(&c);
    fake.set_routes(
        "Iface\tDestination\neth1\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
        "",
    );
    fake
}

#[test]
fn text_status_groups_devices_like_devbind() {
    let fake = lab_host();
    let text = status::render_text(&pci::network_devices(fake.host()).unwrap());
    let vfio = text.find("Network devices bound to vfio-pci").unwrap();
    let kernel = text.find("Network devices on a kernel driver").unwrap();
    let other = text.find("Other network devices").unwrap();
    let line_a = text
        .find("0000:00:02.0 '82540EM (e1000)' 8086:100e drv=vfio-pci group=3 (viable)")
        .unwrap();
    let line_b = text
        .find("0000:00:03.0 '82574L (e1000e)' 8086:10d3 if=eth1 drv=e1000e group=4 (not viable: 0000:00:03.0 on e1000e) numa=1 *Active*")
        .unwrap_or_else(|| panic!("{text}"));
    let line_c = text
        .find("0000:00:04.0 'not supported by vfio-netmap' 10ec:8139 drv=none group=4")
        .unwrap();
    assert!(
        vfio < line_a && line_a < kernel && kernel < line_b && line_b < other && other < line_c,
        "{text}"
    );
}

#[test]
fn empty_sections_say_none() {
    let fake = FakeHost::new("status-empty");
    let text = status::render_text(&pci::network_devices(fake.host()).unwrap());
    assert_eq!(text.matches("<none>").count(), 3, "{text}");
}

#[test]
fn json_status_is_valid_and_complete() {
    let fake = lab_host();
    let json = status::render_json(&pci::network_devices(fake.host()).unwrap());
    let doc = Parser::parse(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let devices = doc.get("devices").arr();
    assert_eq!(devices.len(), 3);
    let b = &devices[1];
    assert_eq!(b.get("address").str(), "0000:00:03.0");
    assert_eq!(b.get("vendor").str(), "8086");
    assert_eq!(b.get("device").str(), "10d3");
    assert_eq!(b.get("class").str(), "020000");
    assert_eq!(b.get("name").str(), "82574L (e1000e)");
    assert_eq!(b.get("category").str(), "kernel");
    assert_eq!(b.get("driver").str(), "e1000e");
    assert_eq!(b.get("active"), &Value::Bool(true));
    assert_eq!(b.get("numa_node"), &Value::Num(1.0));
    assert_eq!(b.get("interfaces").arr(), [Value::Str("eth1".into())]);
    let group = b.get("iommu_group");
    assert_eq!(group.get("number"), &Value::Num(4.0));
    assert_eq!(group.get("viable"), &Value::Bool(false));
    assert_eq!(group.get("members").arr().len(), 2);
    assert_eq!(group.get("members").arr()[1].get("driver"), &Value::Null);
    assert_eq!(devices[0].get("category").str(), "vfio");
    assert_eq!(devices[2].get("category").str(), "other");
    assert_eq!(devices[2].get("name"), &Value::Null);
    assert_eq!(devices[2].get("numa_node"), &Value::Null);
}

/// An igb and a virtio-net NIC (QEMU offers both; no driver opens them) and
/// an X553, which the ixgbe driver opens.
fn mixed_host() -> FakeHost {
    let fake = FakeHost::new("status-support");
    let mut igb = FakeDevice::e1000("0000:00:02.0", 3);
    igb.device = 0x10c9;
    igb.driver = Some("igb");
    fake.add_device(&igb);
    let mut virtio = FakeDevice::e1000("0000:00:03.0", 4);
    virtio.vendor = 0x1af4;
    virtio.device = 0x1041;
    virtio.driver = Some("virtio-pci");
    fake.add_device(&virtio);
    let mut x553 = FakeDevice::e1000("0000:00:04.0", 5);
    x553.device = 0x15c4;
    x553.driver = Some("vfio-pci");
    fake.add_device(&x553);
    fake
}

#[test]
fn status_says_which_devices_a_driver_opens() {
    let fake = mixed_host();
    let devices = pci::network_devices(fake.host()).unwrap();
    let text = status::render_text(&devices);
    for line in [
        "0000:00:02.0 '82576 (igb): no driver yet' 8086:10c9 drv=igb",
        "0000:00:03.0 'virtio-net (modern): no driver yet' 1af4:1041 drv=virtio-pci",
        "0000:00:04.0 'X553 SFP+ N (ixgbe)' 8086:15c4 drv=vfio-pci",
    ] {
        assert!(text.contains(line), "no `{line}` in\n{text}");
    }
    let json = status::render_json(&devices);
    let doc = Parser::parse(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let got: Vec<(&str, &str, &Value)> = doc
        .get("devices")
        .arr()
        .iter()
        .map(|d| {
            (
                d.get("address").str(),
                d.get("name").str(),
                d.get("supported"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("0000:00:02.0", "82576 (igb)", &Value::Bool(false)),
            ("0000:00:03.0", "virtio-net (modern)", &Value::Bool(false)),
            ("0000:00:04.0", "X553 SFP+ N (ixgbe)", &Value::Bool(true)),
        ]
    );
}

#[test]
fn cli_status_json_says_a_virtio_nic_is_not_supported() {
    let fake = mixed_host();
    let (ok, out, err) = cli(&fake, &["status", "--json"]);
    assert!(ok, "{err}");
    let doc = Parser::parse(out.trim()).unwrap();
    let virtio = doc
        .get("devices")
        .arr()
        .iter()
        .find(|d| d.get("vendor").str() == "1af4")
        .unwrap();
    assert_eq!(virtio.get("supported"), &Value::Bool(false), "{out}");
}

#[test]
fn json_strings_are_escaped() {
    let nasty = "a\"b\\c\nd\te\u{1}f\u{7f}g é 😀";
    let text = Json::Object(vec![
        ("s", Json::str(nasty)),
        (
            "list",
            Json::Array(vec![Json::Int(-3), Json::Bool(false), Json::Null]),
        ),
    ])
    .to_string();
    let doc = Parser::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc.get("s").str(), nasty);
    assert_eq!(
        doc.get("list").arr(),
        [Value::Num(-3.0), Value::Bool(false), Value::Null]
    );
}

#[test]
fn info_report_shows_bars_interrupts_reset_and_group() {
    let fake = lab_host();
    let report = info::gather(fake.host(), "0000:00:03.0".parse().unwrap(), true).unwrap();
    let text = info::render_text(&report);
    assert!(
        text.contains("BAR0: 0xfebc0000 size 128 KiB (memory, 32-bit)"),
        "{text}"
    );
    assert!(text.contains("INTx pin A, no MSI, no MSI-X"), "{text}");
    assert!(text.contains("Reset: no function reset"), "{text}");
    assert!(
        text.contains(
            "IOMMU group 4 (NOT viable): 0000:00:03.0 (e1000e), 0000:00:04.0 (no driver)"
        ),
        "{text}"
    );
    assert!(text.contains("vfio-netmap bind 0000:00:03.0"), "{text}");
    assert!(text.contains("Link/MAC/counters"), "{text}");
}

#[test]
fn info_of_a_vfio_device_reports_why_vfio_could_not_open_it() {
    let fake = lab_host();
    let report = info::gather(fake.host(), "0000:00:02.0".parse().unwrap(), true).unwrap();
    let text = info::render_text(&report);
    assert!(
        text.contains("VFIO: could not open") && text.contains("modprobe vfio-pci"),
        "{text}"
    );
}

fn cli(fake: &FakeHost, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vfio-netmap"))
        .arg("--host-root")
        .arg(fake.root())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn cli_status_json_and_text() {
    let fake = lab_host();
    let (ok, out, err) = cli(&fake, &["status", "--json"]);
    assert!(ok, "{err}");
    let doc = Parser::parse(out.trim()).unwrap();
    assert_eq!(doc.get("devices").arr().len(), 3);
    let (ok, out, _) = cli(&fake, &["status"]);
    assert!(ok && out.contains("*Active*"));
}

#[test]
fn cli_bind_unbind_round_trip() {
    let mut fake = FakeHost::new("cli-bind");
    fake.add_device(&FakeDevice::e1000("0000:00:02.0", 3));
    fake.start_fake_kernel();
    let (ok, out, err) = cli(&fake, &["bind", "00:02.0"]);
    assert!(ok, "{err}");
    assert_eq!(out, "0000:00:02.0: e1000 -> vfio-pci (group 3)\n");
    let (ok, out, err) = cli(&fake, &["unbind", "0000:00:02.0"]);
    assert!(ok, "{err}");
    assert_eq!(out, "0000:00:02.0: vfio-pci -> e1000\n");
}

#[test]
fn cli_errors_go_to_stderr_with_the_fix() {
    let fake = lab_host();
    let (ok, _, err) = cli(&fake, &["bind", "0000:00:03.0"]);
    assert!(!ok);
    assert!(
        err.starts_with("vfio-netmap: refusing to bind 0000:00:03.0") && err.contains("--force"),
        "{err}"
    );
    let (ok, _, err) = cli(&fake, &["info", "0000:00:03.9"]);
    assert!(!ok && err.contains("function above 7"), "{err}");
}

#[test]
fn every_subcommand_has_real_help() {
    let fake = FakeHost::new("help");
    for (sub, phrase) in [
        ("status", "dpdk-devbind"),
        ("bind", "driver_override"),
        ("unbind", "remembered"),
        ("info", "interrupt"),
    ] {
        let (ok, out, _) = cli(&fake, &[sub, "--help"]);
        assert!(
            ok && out.contains(phrase),
            "{sub} --help lacks `{phrase}`:\n{out}"
        );
    }
    let (ok, out, _) = cli(&fake, &["--help"]);
    assert!(ok && out.contains("RUST_LOG"), "{out}");
}
