//! Little-endian reader for the embedded data files made by `tools/starmap-data`.
//!
//! The files are part of the binary, so a malformed one is a build defect, not a
//! run-time condition: the reader panics with the file's magic in the message.

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], magic: &[u8; 4]) -> Self {
        assert_eq!(&buf[..4], magic, "embedded data file has the wrong magic");
        Self { buf, pos: 4 }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let b: [u8; N] = self.buf[self.pos..self.pos + N]
            .try_into()
            .expect("embedded data file truncated");
        self.pos += N;
        b
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    pub(crate) fn i16(&mut self) -> i16 {
        i16::from_le_bytes(self.take())
    }
    pub(crate) fn i8(&mut self) -> i8 {
        i8::from_le_bytes(self.take())
    }
    pub(crate) fn f32(&mut self) -> f32 {
        f32::from_le_bytes(self.take())
    }
    pub(crate) fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.take())
    }
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        b
    }
}
