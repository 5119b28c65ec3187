"""A small document folder in every supported format, written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

PARAGRAPHS = [
    "Lighthouses guide ships along dangerous coasts. A lighthouse is a tower with a bright lamp at the top. "
    "Each lighthouse flashes in its own pattern, so sailors can tell them apart at night.",
    "The lamp was once fuelled by whale oil. Later keepers used paraffin, and today most lamps are electric. "
    "Modern lenses can throw the beam more than 40 kilometres out to sea.",
]


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with a single line of text (enough for pypdf to extract)."""
    stream = f"BT /F1 12 Tf 50 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


@pytest.fixture
def doc_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a_lighthouses.md").write_text("# Lighthouses\n\n" + "\n\n".join(PARAGRAPHS))
    (folder / "b_bread.txt").write_text(
        "Bread rises because yeast produces carbon dioxide. The gas is trapped by gluten, a stretchy protein "
        "network. Bakers knead the dough to build that network.\n\n"
        "A slow, cool rise gives bread more flavour. Salt slows the yeast down and tightens the gluten."
    )
    (folder / "c_rivers.html").write_text(
        "<html><body><script>var x = 1;</script><h1>Rivers</h1><p>A river delta forms where a river slows "
        "down and drops its sediment. The Nile delta is one of the largest in the world.</p><p>Deltas are "
        "fertile, and many cities were built on them because the soil is rich.</p></body></html>"
    )
    (folder / "d_moon.pdf").write_bytes(minimal_pdf("The Moon is about 384400 kilometres away from the Earth."))
    (folder / "ignored.csv").write_text("a,b\n1,2\n")
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project data dir for this test (the CLI reads SYNTH_DATA_DIR); no .env is read from the cwd."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("SYNTH_DATA_DIR", str(path))
    monkeypatch.chdir(tmp_path)
    for name in (
        "SYNTH_LLM_PROVIDER",
        "OPENAI_API_KEY",
        "GOOGLE_API_KEY",
        "OPENAI_BASE_URL",
        "SYNTH_LLM_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return path
