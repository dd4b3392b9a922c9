//! A tiny but valid PDF (one page, a few lines of Helvetica) standing in for a Payscore
//! income report. The cross-reference table carries exact byte offsets, so strict readers
//! accept it.

/// A one-page PDF showing `lines`. Parentheses and backslashes are escaped.
pub fn render(title: &str, lines: &[String]) -> Vec<u8> {
    let mut text = String::from("BT /F1 16 Tf 72 720 Td ");
    text.push_str(&format!("({}) Tj /F1 11 Tf", escape(title)));
    for line in lines {
        text.push_str(&format!(" 0 -20 Td ({}) Tj", escape(line)));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
    ];
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn escape(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_has_a_header_a_trailer_and_exact_xref_offsets() {
        let pdf = render("Report (test)", &["group 42".to_owned()]);
        assert!(pdf.starts_with(b"%PDF-1.4"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let find = |needle: &[u8]| pdf.windows(needle.len()).rposition(|w| w == needle);
        let tail_at = find(b"startxref\n").expect("startxref") + "startxref\n".len();
        let tail = String::from_utf8_lossy(&pdf[tail_at..]);
        let xref: usize = tail
            .lines()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("offset");
        assert!(pdf[xref..].starts_with(b"xref"));
        let table = String::from_utf8_lossy(&pdf[xref..]);
        let first: usize = table.lines().nth(3).expect("entry")[..10]
            .parse()
            .expect("offset");
        assert!(pdf[first..].starts_with(b"1 0 obj"));
        assert!(find(b"Report \\(test\\)").is_some());
    }
}
