"""Source material: documents (.txt, .md, .pdf, .html) split into passages, or a bare query.

Files are read in sorted path order and split deterministically, so the same folder always gives
the same passages (and, with the same seed, the same requests and cache keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = (".txt", ".md", ".markdown", ".pdf", ".html", ".htm")
SAMPLE_DOCS = Path(__file__).parent / "sample_docs"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class SourceError(ValueError):
    """Documents cannot be used; the message names the file."""


@dataclass(frozen=True)
class Passage:
    doc: int  # index of the document (sorted by path)
    index: int  # position within the document
    text: str

    @property
    def sentences(self) -> list[str]:
        return split_sentences(self.text)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def document_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise SourceError(f"documents path {str(path)!r} does not exist")
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED:
            raise SourceError(f"{path}: unsupported file type {path.suffix!r}; supported: {', '.join(SUPPORTED)}")
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
    if not files:
        raise SourceError(f"{path}: no documents found (supported: {', '.join(SUPPORTED)})")
    return files


def read_text(path: Path) -> str:
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            from pypdf import PdfReader

            reader = PdfReader(path)
            return "\n\n".join((page.extract_text() or "") for page in reader.pages)
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # pypdf raises many types for damaged files
        raise SourceError(f"{path}: cannot read PDF: {type(exc).__name__}: {exc}") from None
    if suffix in (".html", ".htm"):
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(raw, "html.parser")
        for tag in soup(["script", "style", "nav", "header", "footer"]):
            tag.decompose()
        blocks = [el.get_text(" ", strip=True) for el in soup.find_all(["p", "li", "h1", "h2", "h3", "td", "pre"])]
        return "\n\n".join(b for b in blocks if b) or soup.get_text("\n")
    if suffix in (".md", ".markdown"):
        raw = re.sub(r"```.*?```", "", raw, flags=re.S)  # code blocks are not prose
        raw = re.sub(r"^\s{0,3}#{1,6}\s*", "", raw, flags=re.M)
        raw = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
        raw = re.sub(r"[*_`]{1,3}", "", raw)
    return raw


def split_passages(doc: int, text: str, target_chars: int = 600) -> list[Passage]:
    """Paragraphs merged up to ``target_chars``; longer paragraphs cut at sentence ends."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    pieces: list[str] = []
    for para in paragraphs:
        if len(para) < 2 or (len(para) < 80 and para[-1] not in ".!?:\"'"):
            continue  # headings and captions are not passages
        if len(para) <= target_chars:
            pieces.append(para)
            continue
        current = ""
        for sentence in split_sentences(para):
            if current and len(current) + len(sentence) + 1 > target_chars:
                pieces.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    passages: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) + 1 > target_chars:
            passages.append(current)
            current = piece
        else:
            current = f"{current} {piece}".strip()
    if current:
        passages.append(current)
    # Headings and one-liners alone make poor contexts: keep passages with at least one sentence of substance.
    useful = [p for p in passages if len(p) >= 40]
    return [Passage(doc, i, text) for i, text in enumerate(useful)]


def load_passages(path: str | Path, target_chars: int = 600) -> tuple[list[Path], list[Passage]]:
    files = document_files(path)
    passages: list[Passage] = []
    for doc, file in enumerate(files):
        passages.extend(split_passages(doc, read_text(file), target_chars))
    if not passages:
        raise SourceError(f"{path}: the documents contain no usable text (passages of 40+ characters)")
    return files, passages
