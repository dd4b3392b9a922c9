//! A small `multipart/form-data` reader (RFC 7578) for `sendLeaseDocuments`: enough for
//! what HTTP clients send (CRLF line ends, `Content-Disposition` with `name` and
//! `filename`, optional `Content-Type`). Parts are kept whole in memory.

use bytes::Bytes;

/// One part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `name` of `Content-Disposition`.
    pub name: String,
    /// `filename`, for file parts.
    pub filename: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// The content.
    pub data: Bytes,
}

/// Why a body is not valid multipart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// No `boundary` in the content type.
    #[error("no multipart boundary")]
    NoBoundary,
    /// The body does not follow the format.
    #[error("malformed multipart body")]
    Malformed,
}

/// The boundary of a `multipart/form-data; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, rest) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    rest.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Split `body` into its parts.
pub fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, MultipartError> {
    if boundary.is_empty() {
        return Err(MultipartError::NoBoundary);
    }
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut at =
        find(body, delimiter.as_bytes(), 0).ok_or(MultipartError::Malformed)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(MultipartError::Malformed);
        }
        let headers_start = at + 2;
        let headers_end =
            find(body, b"\r\n\r\n", headers_start).ok_or(MultipartError::Malformed)?;
        let headers = std::str::from_utf8(&body[headers_start..headers_end])
            .map_err(|_| MultipartError::Malformed)?;
        let data_start = headers_end + 4;
        let data_end =
            find(body, next_delimiter.as_bytes(), data_start).ok_or(MultipartError::Malformed)?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body.slice(data_start..data_end),
        };
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            } else if key.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    let Some((k, v)) = param.split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim() {
                        "name" => part.name = v,
                        "filename" => part.filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(part);
        at = data_end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_file_parts_are_read_with_their_names() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{\"a\":1}\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file1\"; filename=\"r.pdf\"\r\n\
              Content-Type: application/octet-stream\r\n\r\n%PDF\r\n--X\r\n--XyZ--\r\n",
        );
        let parts = parse(&body, "XyZ").expect("parses");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "requestBody");
        assert_eq!(&parts[0].data[..], b"{\"a\":1}");
        assert_eq!(parts[1].filename.as_deref(), Some("r.pdf"));
        assert_eq!(&parts[1].data[..], b"%PDF\r\n--X");
    }

    #[test]
    fn the_boundary_is_read_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("application/json"), None);
    }

    #[test]
    fn a_truncated_body_is_malformed() {
        let body =
            Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc");
        assert_eq!(parse(&body, "XyZ"), Err(MultipartError::Malformed));
    }
}
