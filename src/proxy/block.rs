//! How large a pump's read blocks are.
//!
//! A pump reads into the free tail of a block and hands each read on (to
//! the writer and to the recorder) as a piece of that block, without
//! copying; the block is freed once every piece of it has been dropped. A
//! block of [`READ_BUFFER`] (256 KiB, as `socat -b 262144`) makes a 1 MiB
//! message four reads, but every connection that keeps one per direction
//! ends up holding 512 KiB resident once its small reads have walked
//! through both: 5 GiB for 10 000 mostly idle chat connections. So a pump
//! starts small and sizes each block by what the reads into the one before
//! it did:
//! - a read that took all the room it was offered (more was waiting) makes
//!   the next block four times larger, up to [`READ_BUFFER`]: a bulk
//!   transfer gets full-size reads from its third read on;
//! - a block in which no read took more than a sixteenth of it, and which
//!   asked for no growth, is followed by one four times smaller, down to
//!   [`MIN_BLOCK`];
//! - a new block (or the old one, reclaimed when nothing holds a piece of
//!   it any more) is taken when less than a quarter of the current one is
//!   left, so a read is always offered at least a quarter of a block.
//!
//! Contract: block sizes are [`MIN_BLOCK`] times a power of four, at most
//! [`READ_BUFFER`]; sizing never changes what is read, only how many
//! reads it takes.

use super::relay::READ_BUFFER;
use bytes::{Bytes, BytesMut};

/// The first, and the smallest, block: 16 KiB (four pages), one TLS
/// record's plaintext.
pub const MIN_BLOCK: usize = 16 * 1024;

/// A pump's current block and the size of the next one.
#[derive(Debug)]
pub struct ReadBlocks {
    buf: BytesMut,
    /// Size of the block `buf` is in.
    block: usize,
    /// Size of the next block.
    next: usize,
    /// Largest read into the current block.
    largest: usize,
    /// Room offered to the read in progress.
    offered: usize,
}

impl Default for ReadBlocks {
    fn default() -> Self {
        ReadBlocks {
            buf: BytesMut::with_capacity(MIN_BLOCK),
            block: MIN_BLOCK,
            next: MIN_BLOCK,
            largest: 0,
            offered: 0,
        }
    }
}

impl ReadBlocks {
    /// The buffer the next read goes into (empty, with room for at least a
    /// quarter of a block).
    pub fn room(&mut self) -> &mut BytesMut {
        if self.buf.capacity() < self.block / 4 {
            self.take_block();
        }
        self.offered = self.buf.capacity();
        &mut self.buf
    }

    /// The bytes of a read into [`ReadBlocks::room`] that returned `n`.
    pub fn take(&mut self, n: usize) -> Bytes {
        self.largest = self.largest.max(n);
        if n >= self.offered && self.next < READ_BUFFER {
            self.next = (self.block * 4).min(READ_BUFFER);
        }
        self.buf.split().freeze()
    }

    /// Size of the current block.
    #[cfg(test)]
    pub fn block_size(&self) -> usize {
        self.block
    }

    fn take_block(&mut self) {
        if self.next == self.block && self.largest <= self.block / 16 {
            self.next = (self.block / 4).max(MIN_BLOCK);
        }
        self.largest = 0;
        if self.next == self.block {
            // Reclaims the block when no piece of it is held, else a new one.
            self.buf.reserve(self.block);
        } else {
            self.block = self.next;
            self.buf = BytesMut::with_capacity(self.block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes (at most what is offered) and returns the block size
    /// they were read into.
    fn read(blocks: &mut ReadBlocks, n: usize) -> (usize, usize) {
        let room = blocks.room();
        let offered = room.capacity();
        let n = n.min(offered);
        room.resize(n, 0xa5);
        let size = blocks.block_size();
        assert_eq!(blocks.take(n).len(), n);
        (size, offered)
    }

    #[test]
    fn starts_small_and_stays_small_for_small_reads() {
        let mut blocks = ReadBlocks::default();
        for _ in 0..10_000 {
            let (size, offered) = read(&mut blocks, 64);
            assert_eq!(size, MIN_BLOCK);
            assert!(offered >= MIN_BLOCK / 4);
        }
    }

    #[test]
    fn bulk_reads_reach_full_blocks_on_the_third_read() {
        let mut blocks = ReadBlocks::default();
        let sizes: Vec<usize> = (0..4).map(|_| read(&mut blocks, usize::MAX).0).collect();
        assert_eq!(sizes, [MIN_BLOCK, 4 * MIN_BLOCK, READ_BUFFER, READ_BUFFER]);
        // Full-size reads: every read is offered the whole block.
        assert_eq!(read(&mut blocks, usize::MAX).1, READ_BUFFER);
    }

    #[test]
    fn shrinks_back_when_reads_become_small() {
        let mut blocks = ReadBlocks::default();
        while read(&mut blocks, usize::MAX).0 < READ_BUFFER {}
        let mut seen = vec![READ_BUFFER];
        for _ in 0..100_000 {
            let (size, _) = read(&mut blocks, 100);
            if seen.last() != Some(&size) {
                seen.push(size);
            }
        }
        assert_eq!(seen, [READ_BUFFER, 4 * MIN_BLOCK, MIN_BLOCK]);
    }

    #[test]
    fn medium_reads_keep_a_medium_block() {
        // The second 8 KiB read takes the last 8 KiB of the first block,
        // all the room it was offered: the next block is 64 KiB. There no
        // read fills its room, and 8 KiB is more than a sixteenth of the
        // block, so it stays.
        let mut blocks = ReadBlocks::default();
        let sizes: Vec<usize> = (0..1000).map(|_| read(&mut blocks, 8 * 1024).0).collect();
        assert_eq!(*sizes.last().unwrap(), 4 * MIN_BLOCK);
        assert!(sizes.iter().all(|&s| s <= 4 * MIN_BLOCK));
    }

    #[test]
    fn a_held_piece_keeps_its_bytes_when_the_block_is_replaced() {
        let mut blocks = ReadBlocks::default();
        let room = blocks.room();
        room.extend_from_slice(b"first");
        let first = blocks.take(5);
        for _ in 0..1000 {
            read(&mut blocks, usize::MAX);
        }
        assert_eq!(&first[..], b"first");
    }
}
