//! Tests of the capture-file reader.

use super::*;

fn iface(tsresol: u8, offset_secs: i64) -> Interface {
    Interface { linktype: LinkType::ETHERNET, tsresol, offset_secs }
}

#[test]
fn tsresol_decimal_and_binary() {
    assert_eq!(iface(6, 0).nanos(1_500_000), 1_500_000_000);
    assert_eq!(iface(9, 0).nanos(7), 7);
    assert_eq!(iface(3, 0).nanos(2), 2_000_000);
    assert_eq!(iface(12, 0).nanos(5_000), 5);
    assert_eq!(iface(0x80 | 10, 0).nanos(1024), NANOS_PER_SEC);
    assert_eq!(iface(6, 100).nanos(0), 100 * NANOS_PER_SEC);
}

#[test]
fn buffer_grows_only_with_data() {
    let mut b = StreamBuf::new(Box::new(io::Cursor::new(vec![7u8; 10_000])), 4096);
    b.fill_to(MAX_RECORD).unwrap();
    assert!(b.eof && b.data().len() == 10_000);
    assert!(b.buf.len() < 20_000, "grew to {} for 10 kB of data", b.buf.len());
    b.consume(9_000);
    b.fill_to(500).unwrap();
    assert_eq!(b.data().len(), 1_000);
}

#[test]
fn link_type_keeps_low_bits() {
    assert_eq!(link_of(0x4000_0001), LinkType::ETHERNET);
    assert_eq!(link_of(113), LinkType::LINUX_SLL);
}
