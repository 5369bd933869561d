//! Fuzzes the capture-file reader (pcap and pcapng) and the decoder behind it.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ntop_rs::capture::{FileSource, Next, PacketSource};
use ntop_rs::decode::decode;

fuzz_target!(|data: &[u8]| {
    let Ok(mut source) = FileSource::from_reader("fuzz", Box::new(Cursor::new(data.to_vec())), Some(data.len() as u64)) else { return };
    // Every frame costs at least 16 bytes of input, so this bound is never the one that stops a real file.
    for _ in 0..=data.len() {
        match source.next_frame() {
            Ok(Next::Frame(frame)) => {
                let _ = decode(&frame);
            }
            Ok(Next::Idle) => {}
            Ok(Next::End) | Err(_) => return,
        }
    }
    panic!("the reader did not end within the input's length");
});
