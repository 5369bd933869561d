//! Fuzzes the decoder: the first two bytes pick the link type, the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntop_rs::capture::{Frame, LinkType};
use ntop_rs::decode::decode;

/// Link types the decoder handles; other values of the selector are used as-is.
const KNOWN: [u16; 16] = [0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 276];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let sel = u16::from_le_bytes([data[0], data[1]]);
    let linktype = LinkType(if sel < 0x8000 { KNOWN[usize::from(sel) % KNOWN.len()] } else { sel });
    let bytes = &data[2..];
    let frame = Frame { ts: 0, linktype, data: bytes, orig_len: bytes.len() as u32 + u32::from(data[0]) };
    let meta = decode(&frame);
    assert_eq!(meta.cap_len as usize, bytes.len());
    assert_eq!(meta.src.is_some(), meta.dst.is_some());
});
