//! The read buffer behind file sources: a window over a byte stream that grows only as
//! bytes arrive, so a file (or standard input) streams through one buffer.

use std::io::{self, Read};

/// A growable window over a byte stream: `buf[start..end]` is unread data.
pub(super) struct StreamBuf {
    pub(super) reader: Box<dyn Read + Send>,
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Bytes to drop before the next read (the record handed out last).
    pub(super) pending: usize,
    /// Stream offset of `buf[start]`.
    pub(super) offset: u64,
    pub(super) eof: bool,
}

impl StreamBuf {
    pub(super) fn new(reader: Box<dyn Read + Send>, size: usize) -> Self {
        StreamBuf { reader, buf: vec![0; size], start: 0, end: 0, pending: 0, offset: 0, eof: false }
    }

    pub(super) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    pub(super) fn consume_pending(&mut self) {
        let n = std::mem::take(&mut self.pending);
        self.consume(n);
    }

    /// Reads until at least `want` unread bytes are buffered or the stream ends.
    ///
    /// The buffer grows (doubling) only as bytes actually arrive, so a corrupt length
    /// field on a short input never allocates what it claims.
    pub(super) fn fill_to(&mut self, want: usize) -> io::Result<()> {
        if self.end - self.start >= want {
            return Ok(());
        }
        if self.start + want > self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < want && !self.eof {
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2).min(self.start + want).max(self.end + 1);
                self.buf.resize(grown, 0);
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
