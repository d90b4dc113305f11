//! Port-name parser: every accepted form, malformed input with exact error
//! positions, Display round trips, and property tests.

use proptest::prelude::*;
use vfio_netmap::api::PipeEnd;
use vfio_netmap::driver::PciAddr;
use vfio_netmap::ports::name::{
    NameError, OptionValue, PortKind, PortName, PortOption, RegFlags, RegMode, parse, parse_bytes,
    parse_lenient,
};

fn ok(s: &str) -> PortName {
    match parse(s) {
        Ok(p) => p,
        Err(e) => panic!("{s:?} rejected:\n{e}"),
    }
}

fn netmap(name: &str) -> PortKind {
    PortKind::Netmap {
        name: name.to_string(),
    }
}

fn port(kind: PortKind) -> PortName {
    PortName {
        kind,
        mode: RegMode::AllNic,
        flags: RegFlags::default(),
        mem_id: None,
        options: Vec::new(),
    }
}

fn pci(domain: u16, bus: u8, device: u8, function: u8) -> PciAddr {
    PciAddr {
        domain,
        bus,
        device,
        function,
    }
}

fn map(entries: &[(&str, &str)]) -> OptionValue {
    OptionValue::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn opt(name: &str, value: OptionValue) -> PortOption {
    PortOption {
        name: name.to_string(),
        value,
    }
}

/// Checks `parse(display(x)) == x` and that the canonical form is stable.
fn assert_round_trip(p: &PortName) {
    let shown = p.to_string();
    let again = parse(&shown).unwrap_or_else(|e| panic!("canonical {shown:?} rejected:\n{e}"));
    assert_eq!(&again, p, "via {shown:?}");
    assert_eq!(again.to_string(), shown);
}

#[test]
fn netmap_forms() {
    assert_eq!(ok("netmap:em0"), port(netmap("em0")));
    assert_eq!(ok("netmap:em0-3").mode, RegMode::OneNic(3));
    assert_eq!(ok("netmap:em0^").mode, RegMode::AllHost);
    assert_eq!(ok("netmap:em0^1").mode, RegMode::OneHost(1));
    assert_eq!(ok("netmap:em0*").mode, RegMode::NicAndHost);
    assert_eq!(ok("netmap:em0-65535").mode, RegMode::OneNic(65535));

    let p = ok("netmap:em0/xR");
    assert_eq!(p.kind, netmap("em0"));
    assert_eq!(
        p.flags,
        RegFlags {
            exclusive: true,
            rx_rings_only: true,
            ..Default::default()
        }
    );

    let all = ok("netmap:em0/xz/trRT");
    assert_eq!(
        all.flags,
        RegFlags {
            exclusive: true,
            zcopy_monitor: true,
            monitor_tx: true,
            monitor_rx: true,
            rx_rings_only: true,
            tx_rings_only: true,
        }
    );
    assert_eq!(all.to_string(), "netmap:em0/xztrRT");

    let p = ok("netmap:em0@2");
    assert_eq!(p.mem_id, Some(2));
    assert_eq!(p.mode, RegMode::AllNic);
    // The same id twice is fine.
    assert_eq!(ok("netmap:em0@2/x@2").mem_id, Some(2));
}

#[test]
fn mode_flags_memid_and_options_together() {
    let p = ok("netmap:em0-1/T@3@conf:rings=4,slots=1024");
    assert_eq!(p.kind, netmap("em0"));
    assert_eq!(p.mode, RegMode::OneNic(1));
    assert_eq!(
        p.flags,
        RegFlags {
            tx_rings_only: true,
            ..Default::default()
        }
    );
    assert_eq!(p.mem_id, Some(3));
    assert_eq!(
        p.options,
        vec![opt("conf", map(&[("rings", "4"), ("slots", "1024")]))]
    );
    assert_eq!(p.conf("rings"), Some("4"));
    assert_eq!(p.conf("slots"), Some("1024"));
    assert_eq!(p.conf("host-rings"), None);
    assert_eq!(p.option("conf").map(|o| &o.name[..]), Some("conf"));
    assert_eq!(p.option("share"), None);
    assert_eq!(p.to_string(), "netmap:em0-1/T@3@conf:rings=4,slots=1024");

    let p = ok("netmap:em0@offset@share=x@extmem:file=/dev/hugepages/a,if-num=4");
    assert_eq!(
        p.options,
        vec![
            opt("offset", OptionValue::None),
            opt("share", OptionValue::Value("x".into())),
            opt(
                "extmem",
                map(&[("file", "/dev/hugepages/a"), ("if-num", "4")])
            ),
        ]
    );
    assert_eq!(p.conf("file"), None, "conf() only looks at @conf");
    assert_round_trip(&p);

    // `@N` may come after options too; Display puts it first.
    let p = ok("netmap:em0@conf:rings=2@5");
    assert_eq!(p.mem_id, Some(5));
    assert_eq!(p.to_string(), "netmap:em0@5@conf:rings=2");
}

#[test]
fn pipes() {
    let master = ok("netmap:p{0");
    assert_eq!(
        master.kind,
        PortKind::Pipe {
            prefix: "netmap".into(),
            name: "p".into(),
            id: "0".into(),
            end: PipeEnd::Master
        }
    );
    let slave = ok("netmap:p}17");
    assert_eq!(
        slave.kind,
        PortKind::Pipe {
            prefix: "netmap".into(),
            name: "p".into(),
            id: "17".into(),
            end: PipeEnd::Slave
        }
    );
    let vale_pipe = ok("vale0:x{a_b-2/x");
    assert_eq!(
        vale_pipe.kind,
        PortKind::Pipe {
            prefix: "vale0".into(),
            name: "x".into(),
            id: "a_b".into(),
            end: PipeEnd::Master
        }
    );
    assert_eq!(vale_pipe.mode, RegMode::OneNic(2));
    assert!(vale_pipe.flags.exclusive);
    for p in [master, slave, vale_pipe] {
        assert_round_trip(&p);
    }
}

#[test]
fn vale_ports() {
    assert_eq!(
        ok("vale0:p1").kind,
        PortKind::Vale {
            switch: "vale0".into(),
            port: "p1".into()
        }
    );
    assert_eq!(
        ok("vale:x").kind,
        PortKind::Vale {
            switch: "vale".into(),
            port: "x".into()
        }
    );
    assert_eq!(
        ok("vale_sw1:port_2^").kind,
        PortKind::Vale {
            switch: "vale_sw1".into(),
            port: "port_2".into()
        }
    );
}

#[test]
fn vfio_ports() {
    let p = ok("vfio:0000:00:03.0");
    assert_eq!(
        p,
        port(PortKind::Vfio {
            addr: pci(0, 0, 3, 0)
        })
    );

    let p = ok("vfio:0000:00:03.0-1");
    assert_eq!(
        p.kind,
        PortKind::Vfio {
            addr: pci(0, 0, 3, 0)
        }
    );
    assert_eq!(p.mode, RegMode::OneNic(1));

    let p = ok("vfio:00:03.0@share=netmap:demo{1");
    assert_eq!(
        p.kind,
        PortKind::Vfio {
            addr: pci(0, 0, 3, 0)
        }
    );
    assert_eq!(
        p.options,
        vec![opt("share", OptionValue::Value("netmap:demo{1".into()))]
    );
    assert_eq!(p.to_string(), "vfio:0000:00:03.0@share=netmap:demo{1");
    assert_round_trip(&p);

    let p = ok("vfio:AB:1f.7*/x");
    assert_eq!(
        p.kind,
        PortKind::Vfio {
            addr: pci(0, 0xab, 0x1f, 7)
        }
    );
    assert_eq!(p.mode, RegMode::NicAndHost);
    assert_eq!(p.to_string(), "vfio:0000:ab:1f.7*/x");
}

#[test]
fn model_ports() {
    let p = ok("model:ixgbe0-3");
    assert_eq!(
        p.kind,
        PortKind::Model {
            name: "ixgbe0".into()
        }
    );
    assert_eq!(p.mode, RegMode::OneNic(3));
    assert_round_trip(&p);
}

#[test]
fn lenient_adds_netmap_prefix() {
    assert_eq!(parse_lenient("em0").unwrap(), port(netmap("em0")));
    assert_eq!(parse_lenient("em0").unwrap(), ok("netmap:em0"));
    assert_eq!(parse_lenient("em0{1").unwrap(), ok("netmap:em0{1"));
    assert_eq!(parse_lenient("em0-2/x").unwrap(), ok("netmap:em0-2/x"));
    // A `:` inside an option value after `@` does not count as a prefix.
    assert_eq!(
        parse_lenient("em0@share=netmap:x").unwrap(),
        ok("netmap:em0@share=netmap:x")
    );
    // With a prefix, lenient is the same as strict.
    assert_eq!(parse_lenient("vale0:p1").unwrap(), ok("vale0:p1"));
    assert_eq!(parse_lenient("vfio:00:03.0").unwrap(), ok("vfio:00:03.0"));
    assert_eq!(parse_lenient("foo:bar"), parse("foo:bar"));
    // Error positions refer to the input as given.
    let e = parse_lenient("em0!").unwrap_err();
    assert_eq!((e.input.as_str(), e.position), ("em0!", 3));
    let e = parse_lenient("a{1}2").unwrap_err();
    assert_eq!((e.input.as_str(), e.position), ("a{1}2", 3));
    assert!(e.to_string().contains("only one of `{` `}`"), "{e}");
    let e = parse_lenient("").unwrap_err();
    assert_eq!((e.input.as_str(), e.position), ("", 0));
}

#[test]
fn from_str_and_bytes() {
    let p: PortName = "netmap:em0".parse().unwrap();
    assert_eq!(p, ok("netmap:em0"));
    assert_eq!(parse_bytes(b"netmap:em0^").unwrap(), ok("netmap:em0^"));
    let e = parse_bytes(b"netmap:em\xff0").unwrap_err();
    assert_eq!(e.position, 9);
    assert!(e.expected.contains("UTF-8"), "{e}");
    assert_eq!(e.input, "netmap:em\u{fffd}0");
}

/// Parses `input` expecting an error at `position` whose message contains
/// every string in `mentions`.
#[track_caller]
fn bad(input: &str, position: usize, mentions: &[&str]) -> NameError {
    let e = match parse(input) {
        Ok(p) => panic!("{input:?} accepted as {p:?}"),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert_eq!(e.input, input);
    assert_eq!(e.position, position, "wrong position for {input:?}:\n{msg}");
    assert!(msg.contains(&format!("at byte {position} ")), "{msg}");
    assert!(msg.contains("expected "), "{msg}");
    for m in mentions {
        assert!(
            msg.contains(m),
            "message for {input:?} does not mention {m:?}:\n{msg}"
        );
    }
    // The caret sits under the offending character (ASCII inputs here).
    let last = msg.lines().last().unwrap();
    assert_eq!(last, format!("    {}^", " ".repeat(position)), "{msg}");
    e
}

#[test]
fn malformed_names() {
    let e = bad(
        "em0",
        0,
        &["prefix the name with `netmap:` (or `vfio:` for a NIC)"],
    );
    assert!(e.to_string().contains("(`e`)"));
    bad("", 0, &["prefix", "(end of input)"]);
    bad("foo:bar", 0, &["`foo` is not a known prefix", "`netmap:`"]);
    bad(":em0", 0, &["a prefix before `:`"]);
    bad("net map:x", 3, &["then `:`"]);

    bad(
        "netmap:",
        7,
        &["a port name (letters, digits, `_`)", "(end of input)"],
    );
    bad("netmap:-1", 7, &["a port name"]);
    bad("vale0:", 6, &["a port name"]);
    bad("model:", 6, &["a port name"]);

    let e = bad(
        "netmap:a{1}2",
        10,
        &[
            "expected end of name, `-N`, `^`, `*`, `/flags`, `@N` or `@option` (a pipe name has only one of `{` `}`)",
        ],
    );
    assert_eq!(
        e.to_string(),
        "bad port name `netmap:a{1}2`: at byte 10 (`}`): expected end of name, `-N`, `^`, `*`, \
         `/flags`, `@N` or `@option` (a pipe name has only one of `{` `}`)\n    netmap:a{1}2\n              ^"
    );
    bad("netmap:p{", 9, &["a pipe id"]);
    bad("netmap:p}-1", 9, &["a pipe id"]);
    bad("netmap:{1", 7, &["a port name", "before the pipe's"]);
    bad("netmap:p{1!", 10, &["pipe id"]);
    bad("netmap:em0-", 11, &["a ring number after `-`"]);
    bad("netmap:em0-x", 11, &["a ring number after `-`"]);
    bad("netmap:em0-65536", 11, &["from 0 to 65535"]);
    bad(
        "netmap:em0/q",
        11,
        &["a flag letter", "`x` (exclusive)", "`T` (tx rings only)"],
    );
    bad("netmap:em0/", 11, &["flag letters after `/`"]);
    bad("netmap:em0/x3", 12, &["`/flags`, `@N`, `@option`"]);
    bad("netmap:em0@0", 11, &["above 0"]);
    bad(
        "netmap:em0@1@2",
        13,
        &["the same memory region id as before (`@1`)"],
    );
    bad("netmap:em0@70000", 11, &["from 0 to 65535"]);
    bad("netmap:em0@", 11, &["`@N`", "`@name`"]);
    bad("netmap:em0@_x", 11, &["start with a letter"]);
    bad("netmap:em0^^", 11, &["only one of `-N`, `^`, `*`"]);
    bad("netmap:em0-1-2", 12, &["only one of `-N`, `^`, `*`"]);
    bad("netmap:em0/x*", 12, &["only one of `-N`, `^`, `*`"]);
    bad("netmap:em0*3", 11, &["`/flags`"]);
    bad("netmap:em0!", 10, &["letters, digits", "`-N`"]);
    bad("netmap:em 0", 9, &["letters, digits"]);

    bad(
        "vfio:00:03",
        5,
        &["a PCI address `DDDD:BB:DD.F`", "no `.F` function part"],
    );
    bad("vfio:", 5, &["a PCI address"]);
    bad("vfio:0000:00:20.0", 5, &["device number above 1f"]);
    bad("vfio:0000:00:03.0{1", 17, &["vfio ports have no pipes"]);
    bad("vfio:00:03.0g", 12, &["hex digits"]);
    bad("model:ixgbe0{1", 12, &["model ports have no pipes"]);

    bad("netmap:em0@share=", 17, &["a value after `@share=`"]);
    bad("netmap:em0@conf:", 16, &["a key"]);
    bad("netmap:em0@conf:rings", 21, &["`=value` after key `rings`"]);
    bad("netmap:em0@conf:rings=", 22, &["a value after `rings=`"]);
    bad("netmap:em0@conf:rings=1,", 24, &["a key"]);
    bad("netmap:em0@conf:rings=1,rings=2", 24, &["already given"]);
    bad("netmap:em0@share=a@share=b", 19, &["already given"]);
    bad("netmap:em0@conf/x", 15, &["`=value`", "`:key=value,...`"]);
}

#[test]
fn errors_on_unicode_input() {
    // Non-ASCII in the name: byte offset, and the caret counts characters.
    let e = parse("netmap:ém0").unwrap_err();
    assert_eq!(e.position, 7);
    assert!(e.to_string().contains("(`é`)"), "{e}");
    let e = parse("netmap:aé").unwrap_err();
    assert_eq!(e.position, 8);
    assert!(
        e.to_string().ends_with("\n    netmap:aé\n            ^"),
        "{e}"
    );
    // Multi-byte before the error.
    let e = parse("netmap:x@share=日本@@").unwrap_err();
    assert_eq!(e.position, "netmap:x@share=日本@".len());
    assert!(
        e.to_string()
            .ends_with(&format!("\n    {}^", " ".repeat(18))),
        "{e}"
    );
    // Control characters are escaped in the message, caret still aligned.
    let e = parse("netmap:\t!").unwrap_err();
    assert_eq!(e.position, 7);
    assert!(e.to_string().contains("(`\\t`)"), "{e}");
    // Unicode is fine inside option values.
    let p = ok("netmap:x@share=日本@conf:k=ü");
    assert_eq!(
        p.option("share").unwrap().value,
        OptionValue::Value("日本".into())
    );
    assert_eq!(p.conf("k"), Some("ü"));
}

#[test]
fn display_round_trips() {
    for s in [
        "netmap:em0",
        "netmap:em0-3",
        "netmap:em0^",
        "netmap:em0^1",
        "netmap:em0*",
        "netmap:em0/xR",
        "netmap:em0@2",
        "netmap:em0-1/T@3@conf:rings=4,slots=1024",
        "netmap:p{0",
        "netmap:p}17",
        "vale0:p1",
        "vale:x",
        "vfio:0000:00:03.0",
        "vfio:0000:00:03.0-1",
        "vfio:0000:00:03.0@share=netmap:demo{1",
        "model:ixgbe0-3",
        "netmap:em0@offset@share=a:b{c=d,e",
    ] {
        let p = ok(s);
        assert_eq!(p.to_string(), s, "canonical form of {s:?}");
        assert_round_trip(&p);
    }
    // Non-canonical spellings print canonically.
    for (s, canonical) in [
        ("netmap:em0-007", "netmap:em0-7"),
        ("netmap:em0/R/x", "netmap:em0/xR"),
        ("netmap:em0/TT@02@2", "netmap:em0/T@2"),
        ("vfio:00:03.0", "vfio:0000:00:03.0"),
        ("netmap:em0@x@3/z", "netmap:em0/z@3@x"),
    ] {
        let p = ok(s);
        assert_eq!(p.to_string(), canonical);
        assert_round_trip(&p);
    }
}

// ---------------------------------------------------------------- proptest

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_]{1,10}"
}

fn kind() -> impl Strategy<Value = (PortKind, String)> {
    let pipe_prefix = prop_oneof![Just("netmap".to_string()), "vale[A-Za-z0-9_]{0,4}"];
    let role = prop_oneof![Just(PipeEnd::Master), Just(PipeEnd::Slave)];
    prop_oneof![
        ident().prop_map(|name| (netmap(&name), format!("netmap:{name}"))),
        (pipe_prefix, ident(), ident(), role).prop_map(|(prefix, name, id, role)| {
            let c = if role == PipeEnd::Master { '{' } else { '}' };
            let s = format!("{prefix}:{name}{c}{id}");
            (
                PortKind::Pipe {
                    prefix,
                    name,
                    id,
                    end: role,
                },
                s,
            )
        }),
        ("vale[A-Za-z0-9_]{0,4}", ident()).prop_map(|(switch, port)| {
            let s = format!("{switch}:{port}");
            (PortKind::Vale { switch, port }, s)
        }),
        (
            any::<u16>(),
            any::<u8>(),
            0u8..=0x1f,
            0u8..=7,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(domain, bus, device, function, short, upper)| {
                let addr = pci(domain, bus, device, function);
                let mut text = if short && domain == 0 {
                    format!("{bus:x}:{device:x}.{function}")
                } else {
                    addr.to_string()
                };
                if upper {
                    text = text.to_uppercase();
                }
                (PortKind::Vfio { addr }, format!("vfio:{text}"))
            }),
        ident().prop_map(|name| (
            PortKind::Model { name: name.clone() },
            format!("model:{name}")
        )),
    ]
}

fn mode() -> impl Strategy<Value = (RegMode, String)> {
    prop_oneof![
        Just((RegMode::AllNic, String::new())),
        any::<u16>().prop_map(|n| (RegMode::OneNic(n), format!("-{n}"))),
        Just((RegMode::AllHost, "^".to_string())),
        any::<u16>().prop_map(|n| (RegMode::OneHost(n), format!("^{n}"))),
        Just((RegMode::NicAndHost, "*".to_string())),
    ]
}

/// A suffix item: a group of flag letters or a mem id.
#[derive(Debug, Clone)]
enum Item {
    Flags(Vec<char>),
    Mem,
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    let letter = prop::sample::select(vec!['x', 'z', 't', 'r', 'R', 'T']);
    let item = prop_oneof![
        prop::collection::vec(letter, 1..4).prop_map(Item::Flags),
        Just(Item::Mem),
    ];
    prop::collection::vec(item, 0..4)
}

fn option_value() -> impl Strategy<Value = OptionValue> {
    let key_values =
        prop::collection::vec(("[A-Za-z0-9_-]{1,6}", "[^@,]{1,8}"), 1..4).prop_map(|kvs| {
            // Keys are distinct within one option.
            let mut seen = std::collections::HashSet::new();
            kvs.into_iter()
                .filter(|(k, _)| seen.insert(k.clone()))
                .collect::<Vec<_>>()
        });
    prop_oneof![
        Just(OptionValue::None),
        "[^@]{1,12}".prop_map(OptionValue::Value),
        key_values.prop_map(OptionValue::Map),
    ]
}

fn options() -> impl Strategy<Value = Vec<PortOption>> {
    prop::collection::vec(("[A-Za-z][A-Za-z0-9_-]{0,7}", option_value()), 0..4).prop_map(|opts| {
        let mut seen = std::collections::HashSet::new();
        opts.into_iter()
            .filter(|(name, _)| seen.insert(name.clone()))
            .map(|(name, value)| PortOption { name, value })
            .collect()
    })
}

/// Writes an option by hand (not via Display, which is under test).
fn option_text(o: &PortOption) -> String {
    match &o.value {
        OptionValue::None => format!("@{}", o.name),
        OptionValue::Value(v) => format!("@{}={v}", o.name),
        OptionValue::Map(kvs) => {
            let body: Vec<String> = kvs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("@{}:{}", o.name, body.join(","))
        }
    }
}

fn set_flag(flags: &mut RegFlags, c: char) {
    match c {
        'x' => flags.exclusive = true,
        'z' => flags.zcopy_monitor = true,
        't' => flags.monitor_tx = true,
        'r' => flags.monitor_rx = true,
        'R' => flags.rx_rings_only = true,
        'T' => flags.tx_rings_only = true,
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match parse_bytes(&bytes) {
            Ok(p) => assert_round_trip(&p),
            Err(e) => {
                prop_assert!(e.position <= e.input.len());
                let _ = e.to_string();
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        for result in [parse(&s), parse_lenient(&s)] {
            match result {
                Ok(p) => assert_round_trip(&p),
                Err(e) => {
                    prop_assert_eq!(&e.input, &s);
                    prop_assert!(e.position <= s.len());
                    prop_assert!(s.is_char_boundary(e.position));
                    let _ = e.to_string();
                }
            }
        }
    }

    /// Strings over the grammar's own alphabet reach deep into the parser.
    #[test]
    fn grammar_soup_never_panics(
        prefix in prop::sample::select(vec!["", "netmap:", "vale0:", "vfio:", "model:", "vfio:00:03.0"]),
        rest in "[a-fxzrtRT0-9:{}*^/@=,._!é-]{0,24}",
    ) {
        let s = format!("{prefix}{rest}");
        for result in [parse(&s), parse_lenient(&s)] {
            match result {
                Ok(p) => assert_round_trip(&p),
                Err(e) => {
                    prop_assert!(e.position <= s.len());
                    prop_assert!(s.is_char_boundary(e.position));
                    prop_assert!(e.to_string().contains("expected "));
                }
            }
        }
    }

    #[test]
    fn generated_names_parse_and_round_trip(
        (kind, kind_text) in kind(),
        (mode, mode_text) in mode(),
        items in items(),
        mem in 1u16..,
        options in options(),
    ) {
        let mut text = kind_text + &mode_text;
        let mut flags = RegFlags::default();
        let mut mem_id = None;
        for item in &items {
            match item {
                Item::Flags(letters) => {
                    text.push('/');
                    for &c in letters {
                        text.push(c);
                        set_flag(&mut flags, c);
                    }
                }
                Item::Mem => {
                    text += &format!("@{mem}");
                    mem_id = Some(mem);
                }
            }
        }
        for o in &options {
            text += &option_text(o);
        }
        let expected = PortName { kind, mode, flags, mem_id, options };
        let parsed = parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&expected), "input {:?}", text);
        assert_round_trip(&expected);
        // Names with the netmap prefix also parse leniently without it.
        if let Some(bare) = text.strip_prefix("netmap:") {
            prop_assert_eq!(parse_lenient(bare), Ok(expected));
        }
    }
}
