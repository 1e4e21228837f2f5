//! Just enough DER to name a certificate: its subject and issuer as
//! RFC 4514 strings, for the `server_cert` of a `tls` event.
//!
//! The certificate has already been checked (or deliberately not) by
//! rustls; this only reads two fields out of it, and any byte sequence it
//! cannot follow gives `None`, never a panic. Attribute values that are not
//! strings are written as `#` and hex, as RFC 4514 says.

use crate::session::CertInfo;

/// Subject and issuer of a DER certificate.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (cert, _) = tlv(der, 0x30)?;
    let (mut tbs, _) = tlv(cert, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs, 0xa0)?.1; // [0] version
    }
    let (_, rest) = tlv(tbs, 0x02)?; // serial
    let (_, rest) = tlv(rest, 0x30)?; // signature algorithm
    let (issuer, rest) = tlv(rest, 0x30)?;
    let (_, rest) = tlv(rest, 0x30)?; // validity
    let (subject, _) = tlv(rest, 0x30)?;
    Some(CertInfo { subject: name(subject)?, issuer: name(issuer)? })
}

/// One TLV of `tag` at the start of `bytes`: its contents and what follows.
fn tlv(bytes: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = bytes.split_first()?;
    if t != tag {
        return None;
    }
    let (len, rest) = length(rest)?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Any TLV: its tag, contents and what follows.
fn any(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *bytes.first()?;
    let (contents, rest) = tlv(bytes, tag)?;
    Some((tag, contents, rest))
}

fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    if first < 0x80 {
        return Some((first.into(), rest));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 || rest.len() < n {
        return None;
    }
    let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Some((len, &rest[n..]))
}

/// A Name (SEQUENCE OF SET OF AttributeTypeAndValue) in RFC 4514 form:
/// the last RDN first, attributes of one RDN joined by `+`.
fn name(mut seq: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    while !seq.is_empty() {
        let (mut set, rest) = tlv(seq, 0x31)?;
        seq = rest;
        let mut parts = Vec::new();
        while !set.is_empty() {
            let (atv, rest) = tlv(set, 0x30)?;
            set = rest;
            let (oid, value) = tlv(atv, 0x06)?;
            let (tag, contents, _) = any(value)?;
            parts.push(format!("{}={}", attribute(oid), value_text(tag, contents, value)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn attribute(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x09] => "STREET".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        [0x55, 0x04, 0x05] => "serialNumber".into(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".into(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC".into(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID".into(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    let Some(&first) = arcs.first() else { return String::new() };
    let (a, b) = if first < 80 { (first / 40, first % 40) } else { (2, first - 80) };
    let mut out = format!("{a}.{b}");
    arcs[1..].iter().for_each(|arc| out.push_str(&format!(".{arc}")));
    out
}

fn value_text(tag: u8, contents: &[u8], whole: &[u8]) -> String {
    let text = match tag {
        0x0c | 0x13 | 0x16 => std::str::from_utf8(contents).ok().map(str::to_string),
        0x14 => Some(contents.iter().map(|&b| char::from(b)).collect()),
        0x1e => {
            let units: Vec<u16> = contents.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    };
    match text {
        Some(t) => escape(&t),
        None => format!("#{}", crate::session::data::hex(whole)),
    }
}

/// RFC 4514 escaping of an attribute value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push_str(&format!("\\{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_out_in_rfc_4514_form() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Acme, Inc.");
        params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = cert_info(cert.der()).unwrap();
        assert_eq!(info.subject, "CN=localhost,O=Acme\\, Inc.");
        assert_eq!(info.issuer, info.subject, "self-signed");
    }

    #[test]
    fn garbage_gives_none() {
        assert_eq!(cert_info(b""), None);
        assert_eq!(cert_info(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(cert_info(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
        assert_eq!(dotted(&[0x2a, 0x86, 0x48]), "1.2.840");
    }
}
