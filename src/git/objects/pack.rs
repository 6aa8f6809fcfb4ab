//! The pack and pack-index formats git reads (`Documentation/gitformat-pack.txt`), version 2,
//! for a handful of whole (undeltified) objects.

/// An object's place in the pack, for its index.
pub(super) struct Entry {
    pub(super) id: gix::ObjectId,
    pub(super) offset: u64,
    /// CRC-32 of the entry as stored: its header and its compressed data.
    pub(super) crc: u32,
}

/// Appends an entry's header: the type in bits 4–6 of the first byte, the size in 4 bits
/// there and 7 more per following byte, least significant first; a set high bit means
/// another byte follows.
pub(super) fn entry_header(out: &mut Vec<u8>, kind: gix::object::Kind, size: usize) {
    let code: u8 = match kind {
        gix::object::Kind::Commit => 1,
        gix::object::Kind::Tree => 2,
        gix::object::Kind::Blob => 3,
        gix::object::Kind::Tag => 4,
    };
    let mut size = size as u64;
    let mut byte = (code << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size != 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
}

/// SHA-1 of `parts` one after the other.
pub(super) fn sha1(parts: &[&[u8]]) -> std::io::Result<gix::ObjectId> {
    let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
    for part in parts {
        hasher.update(part);
    }
    hasher.try_finalize().map_err(std::io::Error::other)
}

/// The version-2 index of a pack whose entries are `entries`, sorted by id, and whose
/// checksum is `pack`.
pub(super) fn index(entries: &[Entry], pack: &gix::ObjectId) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1072 + entries.len() * 28 + 40);
    out.extend_from_slice(b"\xfftOc");
    out.extend_from_slice(&2u32.to_be_bytes());
    // Fan-out: how many ids start with a byte up to each value.
    let mut fanout = [0u32; 256];
    for entry in entries {
        fanout[usize::from(entry.id.as_bytes()[0])] += 1;
    }
    let mut total = 0u32;
    for slot in &mut fanout {
        total += *slot;
        out.extend_from_slice(&total.to_be_bytes());
    }
    for entry in entries {
        out.extend_from_slice(entry.id.as_bytes());
    }
    for entry in entries {
        out.extend_from_slice(&entry.crc.to_be_bytes());
    }
    // Offsets of 2 GiB and more go to a table of 8-byte offsets, named by index.
    let mut large = Vec::new();
    for entry in entries {
        let small = match u32::try_from(entry.offset) {
            Ok(offset) if offset < 0x8000_0000 => offset,
            _ => {
                let slot = u32::try_from(large.len()).map_err(std::io::Error::other)?;
                large.push(entry.offset);
                0x8000_0000 | slot
            }
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack.as_bytes());
    let checksum = sha1(&[&out])?;
    out.extend_from_slice(checksum.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_headers_carry_type_and_size_as_git_reads_them() {
        let mut out = Vec::new();
        entry_header(&mut out, gix::object::Kind::Blob, 5);
        assert_eq!(out, [0x35]);
        out.clear();
        // 0x123 = 0b1_0010_0011: low 4 bits 0x3 in the first byte, then 0x12.
        entry_header(&mut out, gix::object::Kind::Commit, 0x123);
        assert_eq!(out, [0x80 | 0x10 | 0x3, 0x12]);
        out.clear();
        entry_header(&mut out, gix::object::Kind::Tree, 0);
        assert_eq!(out, [0x20]);
    }
}
