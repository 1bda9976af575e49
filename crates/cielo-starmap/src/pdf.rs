pub(crate) fn write_pdf<W: std::io::Write>(_s: &crate::scene::Scene, _o: W) -> std::io::Result<()> { Err(std::io::Error::other("PDF output is not implemented yet")) }
