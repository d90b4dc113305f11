//! The ixgbe register map against the datasheet: every offset the driver
//! uses, with the 82599 datasheet section it comes from (values cross-checked
//! with Linux's ixgbe_type.h), and the reserved-bit masks the init sequence
//! relies on.

use vfio_netmap::driver::ixgbe::regs::stats::*;
use vfio_netmap::driver::ixgbe::regs::*;
use vfio_netmap::driver::ixgbe::{Chip, MacType};

/// (name, offset in the driver, offset in the datasheet, section)
fn table() -> Vec<(&'static str, usize, usize, &'static str)> {
    vec![
        ("CTRL", CTRL, 0x00000, "8.2.3.1.1"),
        ("STATUS", STATUS, 0x00008, "8.2.3.1.2"),
        ("CTRL_EXT", CTRL_EXT, 0x00018, "8.2.3.1.3"),
        ("EEC", EEC, 0x10010, "8.2.3.2.1"),
        ("EICR", EICR, 0x00800, "8.2.3.5.1"),
        ("EICS", EICS, 0x00808, "8.2.3.5.3"),
        ("EIAC", EIAC, 0x00810, "8.2.3.5.6"),
        ("EIMS", EIMS, 0x00880, "8.2.3.5.4"),
        ("EIMC", EIMC, 0x00888, "8.2.3.5.5"),
        ("GPIE", GPIE, 0x00898, "8.2.3.5.18"),
        ("EITR[0]", eitr(0), 0x00820, "8.2.3.5.12"),
        ("EITR[23]", eitr(23), 0x0087c, "8.2.3.5.12"),
        ("EITR[24]", eitr(24), 0x12300, "8.2.3.5.12"),
        ("IVAR[0]", ivar(0), 0x00900, "8.2.3.5.16"),
        ("IVAR[63]", ivar(63), 0x009fc, "8.2.3.5.16"),
        ("IVAR_MISC", IVAR_MISC, 0x00a00, "8.2.3.5.17"),
        ("FCTRL", FCTRL, 0x05080, "8.2.3.7.1"),
        ("RXCSUM", RXCSUM, 0x05000, "8.2.3.7.2"),
        ("MTA[0]", mta(0), 0x05200, "8.2.3.7.7"),
        ("RAL[0]", ral(0), 0x05400, "8.2.3.7.9"),
        ("RAH[0]", rah(0), 0x05404, "8.2.3.7.10"),
        ("MRQC", MRQC, 0x05818, "8.2.3.7.12"),
        ("RETA[0]", reta(0), 0x05c00, "8.2.3.7.13"),
        ("RETA[31]", reta(31), 0x05c7c, "8.2.3.7.13"),
        ("RSSRK[0]", rssrk(0), 0x05c80, "8.2.3.7.14"),
        ("RSSRK[9]", rssrk(9), 0x05ca4, "8.2.3.7.14"),
        ("RDBAL[0]", rdbal(0), 0x01000, "8.2.3.8.1"),
        ("RDBAL[63]", rdbal(63), 0x01fc0, "8.2.3.8.1"),
        ("RDBAH[1]", rdbah(1), 0x01044, "8.2.3.8.2"),
        ("RDLEN[0]", rdlen(0), 0x01008, "8.2.3.8.3"),
        ("RDH[0]", rdh(0), 0x01010, "8.2.3.8.4"),
        ("RDT[0]", rdt(0), 0x01018, "8.2.3.8.5"),
        ("RDT[2]", rdt(2), 0x01098, "8.2.3.8.5"),
        ("RXDCTL[0]", rxdctl(0), 0x01028, "8.2.3.8.6"),
        ("SRRCTL[0]", srrctl(0), 0x02100, "8.2.3.8.7"),
        ("SRRCTL[15]", srrctl(15), 0x0213c, "8.2.3.8.7"),
        ("SRRCTL[16]", srrctl(16), 0x01414, "8.2.3.8.7"),
        ("RDRXCTL", RDRXCTL, 0x02f00, "8.2.3.8.8"),
        ("RXPBSIZE[0]", rxpbsize(0), 0x03c00, "8.2.3.8.9"),
        ("RXCTRL", RXCTRL, 0x03000, "8.2.3.8.10"),
        ("DCA_RXCTRL[0]", dca_rxctrl(0), 0x02200, "8.2.3.11.1"),
        ("DCA_RXCTRL[16]", dca_rxctrl(16), 0x0140c, "8.2.3.11.1"),
        ("DTXMXSZRQ", DTXMXSZRQ, 0x08100, "8.2.3.9.1"),
        ("DMATXCTL", DMATXCTL, 0x04a80, "8.2.3.9.2"),
        ("TDBAL[0]", tdbal(0), 0x06000, "8.2.3.9.5"),
        ("TDBAL[63]", tdbal(63), 0x06fc0, "8.2.3.9.5"),
        ("TDBAH[0]", tdbah(0), 0x06004, "8.2.3.9.6"),
        ("TDLEN[0]", tdlen(0), 0x06008, "8.2.3.9.7"),
        ("TDH[0]", tdh(0), 0x06010, "8.2.3.9.8"),
        ("TDT[0]", tdt(0), 0x06018, "8.2.3.9.9"),
        ("TXDCTL[0]", txdctl(0), 0x06028, "8.2.3.9.10"),
        ("TXPBSIZE[0]", txpbsize(0), 0x0cc00, "8.2.3.9.13"),
        ("MTQC", MTQC, 0x08120, "8.2.3.9.15"),
        ("TXPBTHRESH[0]", txpbthresh(0), 0x04950, "8.2.3.9.16"),
        ("RTTDCS", RTTDCS, 0x04900, "8.2.3.10.2"),
        ("HLREG0", HLREG0, 0x04240, "8.2.3.22.8"),
        ("MAXFRS", MAXFRS, 0x04268, "8.2.3.22.13"),
        ("AUTOC", AUTOC, 0x042a0, "8.2.3.22.19"),
        ("LINKS", LINKS, 0x042a4, "8.2.3.22.20"),
        ("CRCERRS", CRCERRS, 0x04000, "8.2.3.23"),
        ("MPC[0]", mpc(0), 0x03fa0, "8.2.3.23"),
        ("RLEC", RLEC, 0x04040, "8.2.3.23"),
        ("GPRC", GPRC, 0x04074, "8.2.3.23"),
        ("GPTC", GPTC, 0x04080, "8.2.3.23"),
        ("GORCL", GORCL, 0x04088, "8.2.3.23"),
        ("GORCH", GORCH, 0x0408c, "8.2.3.23"),
        ("GOTCL", GOTCL, 0x04090, "8.2.3.23"),
        ("GOTCH", GOTCH, 0x04094, "8.2.3.23"),
        ("RNBC[0]", rnbc(0), 0x03fc0, "8.2.3.23"),
        ("TPR", TPR, 0x040d0, "8.2.3.23"),
        ("TPT", TPT, 0x040d4, "8.2.3.23"),
        ("QPRC[0]", qprc(0), 0x01030, "8.2.3.23"),
        ("QPRC[15]", qprc(15), 0x013f0, "8.2.3.23"),
        ("QPRDC[0]", qprdc(0), 0x01430, "8.2.3.23"),
        ("QPTC[0]", qptc(0), 0x06030, "8.2.3.23"),
        ("RQSMR[0]", rqsmr(0), 0x02300, "8.2.3.23"),
        ("TQSM[0]", tqsm(0), 0x08600, "8.2.3.23"),
    ]
}

#[test]
fn register_offsets_match_the_datasheet() {
    let mut wrong = Vec::new();
    for (name, got, want, section) in table() {
        if got != want {
            wrong.push(format!(
                "{name} (§{section}): {got:#07x}, datasheet {want:#07x}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_offset_is_a_dword_inside_the_bar() {
    for (name, off, _, _) in table() {
        assert_eq!(off % 4, 0, "{name}");
        assert!(off < 0x2_0000, "{name} outside the 128 KiB register BAR");
    }
}

#[test]
fn masks_stay_clear_of_reserved_bits() {
    assert_eq!(EIMC_VALID_MASK & (1 << 31), 0, "EIMC bit 31 is reserved");
    assert_eq!(DTXMXSZRQ_MASK, 0xfff, "DTXMXSZRQ has a 12-bit field");
    assert_eq!(RDRXCTL_RSCFRSTSIZE, 0x1f << 17);
    assert_eq!(RDRXCTL_RSCACKC, 1 << 25);
    assert_eq!(RDRXCTL_FCOE_WRFIX, 1 << 26);
    assert_eq!(TXDCTL_THRESH_MASK & TXDCTL_ENABLE, 0);
    assert_eq!(SRRCTL_DESCTYPE_ADV_ONEBUF & !SRRCTL_DESCTYPE_MASK, 0);
    assert_eq!(CTRL_RST_MASK, (1 << 26) | (1 << 3));
    assert_eq!(LINKS_UP, 1 << 30);
}

#[test]
fn device_ids_name_their_mac() {
    let family = [
        (
            MacType::I82599,
            &[
                0x10fb, 0x10fc, 0x1557, 0x10f8, 0x154d, 0x10f7, 0x1517, 0x10f9, 0x1514, 0x1507,
                0x154a, 0x1529, 0x151c,
            ][..],
        ),
        (MacType::X540, &[0x1528, 0x1560][..]),
        (MacType::X550, &[0x1563, 0x15d1][..]),
        (MacType::X550EmX, &[0x15ad, 0x15ab][..]),
        (MacType::X550EmA, &[0x15c2, 0x15ce][..]),
    ];
    for (mac, ids) in family {
        for &id in ids {
            let chip = Chip::from_device_id(0x8086, id).unwrap_or_else(|| panic!("{id:04x}"));
            assert_eq!(chip.mac, mac, "{id:04x}");
        }
    }
    assert!(Chip::from_device_id(0x8086, 0x100e).is_none(), "an e1000");
    assert!(Chip::from_device_id(0x8087, 0x10fb).is_none());
    assert!(Chip::from_device_id(0x8086, 0x10fb).unwrap().is_82599_sfp());
    assert!(!Chip::from_device_id(0x8086, 0x10f7).unwrap().is_82599_sfp());
    assert_eq!(Chip::from_device_id(0x8086, 0x15c2).unwrap().eec(), 0x15ff8);
}
