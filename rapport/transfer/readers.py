"""Read the files people bring to an import: CSV, Excel (.xlsx) and vCard (.vcf).

Whatever the format, the result is a Table: clean column headers and a stream of SourceRows of
strings, numbered the way the user sees them (a spreadsheet's row numbers, a card's position in
a vCard file). Rows are read from disk on demand, so a million-row file takes no more memory than
a small one. A row that is itself broken comes back with a `problem` and the rows after it are
still read; only a file that cannot be read at all raises UnreadableFile, whose message is a
sentence the user can act on.

The CSV encoding is decided from the first 64 KB: a byte-order mark, the NUL pattern of UTF-16,
valid UTF-8, else Windows-1252 (Latin-1 when a byte undefined in Windows-1252 appears). The
delimiter is whichever of , ; TAB | splits that sample into the most consistent columns.
"""

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import openpyxl
import vobject
import vobject.base

SAMPLE_BYTES = 64 * 1024
MAX_FIELD_CHARS = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")

VCARD_HEADERS = [
    "Full name", "First name", "Last name", "Email", "Email 2", "Email 3", "Phone", "Phone 2",
    "Phone 3", "Organization", "Title", "Street", "City", "Region", "Postal code", "Country",
    "Website", "Note", "Birthday", "Categories",
]

# Process-wide (the csv module has one limit); the default 128 KB would refuse long notes.
csv.field_size_limit(MAX_FIELD_CHARS)

# A line this long cannot be a row of contacts; reading it in pieces keeps memory flat even for a
# file with no line breaks at all.
_MAX_LINE_CHARS = 2 * MAX_FIELD_CHARS

_XLSX_EXTENSIONS = {".xlsx", ".xlsm"}
_VCARD_EXTENSIONS = {".vcf", ".vcard"}
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # old .xls, and any password-protected Office file
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_UNDEFINED_IN_CP1252 = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
# C0 controls that no text export contains (tab, line breaks, form feed, DOS end-of-file and
# escape are left out: they do turn up in real files).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x19\x1c-\x1f]")
_SEP_LINE = re.compile(r"sep=(.)(?:\r\n|\r|\n|$)", re.IGNORECASE)

_EMPTY = "The file is empty."
_NO_HEADER = ("The file has no header row. The first row should name the columns, for example "
              "Name, Email, Phone.")
_OLD_EXCEL = ("This is an old-style Excel file (.xls), which cannot be read. Open it in Excel, choose "
              "File > Save As, save it as an Excel Workbook (.xlsx) or as CSV, and upload that file.")
_PROTECTED_EXCEL = ("This Excel file is password-protected, so it cannot be read. Remove the password "
                    "in Excel (File > Info > Protect Workbook), save it, and upload it again.")
_DAMAGED_EXCEL = ("This Excel file is damaged and cannot be opened. Open it in Excel, save it again "
                  "as .xlsx or as CSV, and upload the new file.")
_OPENDOCUMENT = ("This is an OpenDocument spreadsheet (.ods), which cannot be read. Save it as an "
                 "Excel Workbook (.xlsx) or as CSV (File > Save As) and upload that file.")
_NUMBERS = ("Apple Numbers files cannot be read. In Numbers choose File > Export To > CSV or Excel, "
            "and upload that file.")
_WORD = ("This is a Word document, not a spreadsheet. Put the data in a spreadsheet and save it as "
         "CSV or Excel (.xlsx), then upload that file.")
_ZIP = "This is a compressed (.zip) file. Unzip it and upload the CSV, Excel or vCard file inside."
_PDF = ("This is a PDF document, not a spreadsheet. Export the data from the program it came from "
        "as CSV or Excel (.xlsx) and upload that file.")
_NOT_TEXT = ("This file is not a CSV, Excel or vCard file, so it cannot be read. Export your data as "
             "CSV, Excel (.xlsx) or vCard (.vcf) and upload that file.")
_NO_SHEET = "This workbook has no worksheet to import from."
_NO_CARDS = "No contacts were found in this vCard file: it has no BEGIN:VCARD line."


class UnreadableFile(ValueError):
    """The file as a whole cannot be read; str(exc) is a sentence for the user naming the problem."""


@dataclass(slots=True)
class SourceRow:
    number: int          # as the user sees it: the header is row 1, the first data row 2; a card's position
    values: list[str]    # one string per header, never None
    problem: str = ""    # set when this row itself is broken; values may then be partial


class Table:
    """One uploaded file: its headers, and its rows streamed from disk each time rows() is called."""

    format: str
    encoding: str | None
    delimiter: str | None
    headers: list[str]

    def __init__(self, path: Path, *, format: str, encoding: str | None = None,
                 delimiter: str | None = None):
        self.path = path
        self.format = format
        self.encoding = encoding
        self.delimiter = delimiter
        self.headers = []

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        """The data rows, skipping blank ones (they still count in the numbering) and the first
        `start` rows, so an interrupted import can carry on where it stopped."""
        raise NotImplementedError

    def count(self) -> int:
        """How many rows rows() yields: the data rows that are not blank."""
        return sum(1 for _ in self.rows())

    def __repr__(self):
        return f"<Table {self.format} {self.path.name} {len(self.headers)} columns>"


def open_table(path, *, filename: str | None = None) -> Table:
    """Open an uploaded file for reading. `filename` is the name the user uploaded it under (the
    stored file may have another); its extension picks the format, and the content decides when the
    extension says nothing useful."""
    path = Path(path)
    with path.open("rb") as stream:
        head = stream.read(SAMPLE_BYTES)
        complete = not stream.read(1)
    if not head:
        raise UnreadableFile(_EMPTY)
    extension = _extension(filename or path.name)
    if _format_from_bytes(extension, head) == "xlsx":
        return _XlsxTable.open(path)
    encoding = _detect_encoding(head, complete)
    sample = _decode_sample(head, encoding, complete)
    if _looks_binary(sample):
        raise UnreadableFile(_NOT_TEXT)
    if extension in _VCARD_EXTENSIONS or sample.lstrip().upper().startswith("BEGIN:VCARD"):
        return _VcardTable.open(path, encoding, sample)
    return _CsvTable.open(path, encoding, sample, complete)


def _extension(filename: str) -> str:
    # Browsers on Windows have sent the whole client path; only the last part names the file.
    name = re.split(r"[\\/]", filename)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _format_from_bytes(extension: str, head: bytes) -> str:
    """'xlsx' or 'text', refusing the formats that are recognisable but cannot be read."""
    if head.startswith(_OLE2_SIGNATURE):
        raise UnreadableFile(_PROTECTED_EXCEL if extension in _XLSX_EXTENSIONS else _OLD_EXCEL)
    if extension == ".ods":
        raise UnreadableFile(_OPENDOCUMENT)
    if extension == ".numbers":
        raise UnreadableFile(_NUMBERS)
    if head.startswith(_ZIP_SIGNATURES):
        return "xlsx"
    if extension in _XLSX_EXTENSIONS:
        raise UnreadableFile(_DAMAGED_EXCEL)
    if head.startswith(b"%PDF"):
        raise UnreadableFile(_PDF)
    # Some web applications save an HTML table as .xls; a tab-separated .xls is read as the text it is.
    if extension == ".xls" and head.lstrip()[:1] == b"<":
        raise UnreadableFile(_OLD_EXCEL)
    return "text"


# -- Encodings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Encoding:
    name: str     # what Table.encoding reports
    codec: str    # what the text is decoded with
    errors: str


def _undefined_cp1252_bytes_as_latin1(error: UnicodeDecodeError) -> tuple[str, int]:
    # Five bytes have no character in Windows-1252; Latin-1 gives every byte one, so nothing raises.
    return bytes(error.object[error.start:error.end]).decode("latin-1"), error.end


def _stray_bytes_as_cp1252(error: UnicodeDecodeError) -> tuple[str, int]:
    # A UTF-8 file can carry a few Windows-1252 bytes beyond the sample (a row pasted in from an old
    # system). Reading those as Windows-1252 keeps "Müller" instead of failing or printing "M�ller".
    return bytes(error.object[error.start:error.end]).decode("cp1252", errors=_CP1252_ERRORS), error.end


_CP1252_ERRORS = "rapport.transfer.cp1252-undefined-as-latin1"
_UTF8_ERRORS = "rapport.transfer.utf8-stray-bytes-as-cp1252"
codecs.register_error(_CP1252_ERRORS, _undefined_cp1252_bytes_as_latin1)
codecs.register_error(_UTF8_ERRORS, _stray_bytes_as_cp1252)


def _detect_encoding(head: bytes, complete: bool) -> _Encoding:
    if head.startswith(codecs.BOM_UTF8):
        return _Encoding("utf-8-sig", "utf-8-sig", _UTF8_ERRORS)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _Encoding("utf-16", "utf-16", "replace")
    utf16 = _bomless_utf16(head)
    if utf16:
        return _Encoding(utf16, utf16, "replace")
    if _is_utf8(head, complete):
        return _Encoding("utf-8", "utf-8", _UTF8_ERRORS)
    if any(byte in head for byte in _UNDEFINED_IN_CP1252):
        return _Encoding("latin-1", "latin-1", "strict")
    return _Encoding("cp1252", "cp1252", _CP1252_ERRORS)


def _bomless_utf16(head: bytes) -> str:
    """'utf-16-le' or 'utf-16-be' when every other byte is NUL, as mostly-ASCII UTF-16 text has."""
    sample = head[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return ""
    even_nuls, odd_nuls = sample[0:pairs * 2:2].count(0), sample[1:pairs * 2:2].count(0)
    if odd_nuls > pairs * 0.3 and even_nuls < pairs * 0.05:
        return "utf-16-le"
    if even_nuls > pairs * 0.3 and odd_nuls < pairs * 0.05:
        return "utf-16-be"
    return ""


def _is_utf8(head: bytes, complete: bool) -> bool:
    # Incremental, so a character cut in two at the end of the sample is not taken for bad UTF-8.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _decode_sample(head: bytes, encoding: _Encoding, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors=encoding.errors)
    return decoder.decode(head, final=complete)


def _looks_binary(text: str) -> bool:
    return len(_CONTROL_CHARS.findall(text)) > len(text) // 100


def _open_text(path: Path, encoding: _Encoding) -> io.TextIOWrapper:
    # newline="" leaves line breaks to the csv module, which must see those inside quoted values.
    return io.TextIOWrapper(path.open("rb"), encoding=encoding.codec, errors=encoding.errors, newline="")


# -- Headers and row shapes ------------------------------------------------------------------

def clean_headers(raw: list[str]) -> list[str]:
    """Headers a user can tell apart: trimmed, blank ones named by position, repeats numbered."""
    headers, taken = [], set()
    for position, text in enumerate(raw, start=1):
        name = " ".join(text.replace("\ufeff", "").split()) or f"Column {position}"
        unique, copy = name, 1
        # Case-blind, since "Email" and "EMAIL" look like the same column in the mapping screen.
        while unique.casefold() in taken:
            copy += 1
            unique = f"{name} ({copy})"
        taken.add(unique.casefold())
        headers.append(unique)
    return headers


def _is_blank(values: list[str]) -> bool:
    return not "".join(values).strip()


def _shaped_row(number: int, values: list[str], width: int, problem: str = "") -> SourceRow:
    """A row with exactly one value per header: short rows padded, and values beyond the header
    reported unless they are blank (many exporters end every line with a stray delimiter)."""
    if len(values) < width:
        values.extend([""] * (width - len(values)))
    elif len(values) > width:
        filled = max((index + 1 for index, value in enumerate(values) if value.strip()), default=0)
        del values[width:]
        if filled > width and not problem:
            problem = f"Row has {filled} values but the header has {width} columns."
    return SourceRow(number, values, problem)


# -- CSV -------------------------------------------------------------------------------------

_UNTERMINATED = ('Unterminated quoted field: a quote mark (") in this row is never closed, so '
                 "everything after it was read as part of this row.")
_TOO_LONG = (f"This row has a value longer than {MAX_FIELD_CHARS // (1024 * 1024)} MB (or is itself "
             "that long), so it was not read.")


class _CsvTable(Table):
    @classmethod
    def open(cls, path: Path, encoding: _Encoding, sample: str, complete: bool) -> "_CsvTable":
        sep_line = _SEP_LINE.match(sample)
        # Excel writes "sep=;" as a first line to name the delimiter, and hides that line when it
        # opens the file, so it is not counted as a row either.
        delimiter = sep_line.group(1) if sep_line else _guess_delimiter(sample, complete)
        table = cls(path, format="csv", encoding=encoding.name, delimiter=delimiter)
        table._encoding = encoding
        table._skip_lines = 1 if sep_line else 0
        raw_headers, table._header_number = table._read_header()
        table.headers = clean_headers(raw_headers)
        return table

    def _records(self, text: io.TextIOWrapper, at_end: list) -> Iterator[list[str]]:
        lines = _bounded_lines(text, at_end)
        for _ in range(self._skip_lines):
            next(lines, None)
        return csv.reader(lines, delimiter=self.delimiter, quotechar='"', doublequote=True,
                          skipinitialspace=True, strict=False)

    def _read_header(self) -> tuple[list[str], int]:
        at_end: list = []
        with _open_text(self.path, self._encoding) as text:
            try:
                for number, values in enumerate(self._records(text, at_end), start=1):
                    if values and not _is_blank(values):
                        if at_end:
                            raise UnreadableFile('The header row has a quote mark (") that is never '
                                                 "closed, so the columns cannot be told apart.")
                        return values, number
            except csv.Error:
                raise UnreadableFile("The first row of the file is too long to be a header row. The "
                                     "first row should name the columns, for example Name, Email, Phone.")
        raise UnreadableFile(_NO_HEADER)

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        at_end: list = []
        with _open_text(self.path, self._encoding) as text:
            records = self._records(text, at_end)
            for _ in range(self._header_number):
                next(records)
            yield from _csv_rows(records, len(self.headers), self._header_number, start, at_end)


def _csv_rows(records, width: int, number: int, start: int, at_end: list) -> Iterator[SourceRow]:
    """The hot loop of every CSV import, kept to the few checks each row needs."""
    skip = start
    while True:
        try:
            for values in records:
                number += 1
                if not values or (not values[0].strip() and _is_blank(values)):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(values) == width and not at_end:
                    yield SourceRow(number, values)
                else:
                    # Input that ran out while this row was still open can only be an unclosed quote.
                    yield _shaped_row(number, values, width, _UNTERMINATED if at_end else "")
            return
        except csv.Error as exc:
            # The reader drops the rest of the offending line and carries on from the next one.
            number += 1
            if skip:
                skip -= 1
                continue
            problem = _TOO_LONG if "field limit" in str(exc) else f"This row could not be read: {exc}."
            yield SourceRow(number, [""] * width, problem)


def _bounded_lines(text: io.TextIOWrapper, at_end: list) -> Iterator[str]:
    """The file's lines, noting in `at_end` when they run out; a line too long to be a row is
    replaced by one the csv module refuses as too large, so it is reported rather than cut short."""
    readline = text.readline
    while line := readline(_MAX_LINE_CHARS):
        if len(line) == _MAX_LINE_CHARS and line[-1] not in "\r\n":
            while (rest := readline(_MAX_LINE_CHARS)) and rest[-1] not in "\r\n":
                pass
            line = "x" * (MAX_FIELD_CHARS + 1)
        yield line
    at_end.append(True)


def _guess_delimiter(sample: str, complete: bool) -> str:
    """The delimiter under which the most rows of the sample have as many values as the header
    (which must split into two or more), the widest header breaking a tie. The csv parser itself
    does the splitting, so quoted delimiters and line breaks count as they will when read; and unlike
    csv.Sniffer this always has an answer (a one-column file gets ",")."""
    if not complete:
        sample = _whole_lines(sample)
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True)
        try:
            widths = [len(values) for values in reader if values and not _is_blank(values)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        header_width, body = widths[0], widths[1:]
        if not complete:
            body = body[:-1]    # the sample may end inside a quoted value
        agreeing = sum(width == header_width for width in body) / len(body) if body else 1.0
        score = (agreeing, header_width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _whole_lines(sample: str) -> str:
    end = max(sample.rfind("\n"), sample.rfind("\r"))
    return sample[:end + 1] if end > 0 else sample


# -- Excel -----------------------------------------------------------------------------------

class _XlsxTable(Table):
    @classmethod
    def open(cls, path: Path) -> "_XlsxTable":
        table = cls(path, format="xlsx")
        with table._sheet() as sheet:
            for number, cells in enumerate(_sheet_rows(sheet), start=1):
                values = [_cell_text(cell) for cell in cells]
                if values and not _is_blank(values):
                    table._header_number = number
                    table.headers = clean_headers(values)
                    return table
        raise UnreadableFile("The first sheet of this workbook is empty. " + _NO_HEADER)

    @contextlib.contextmanager
    def _sheet(self):
        # Given a path, openpyxl insists on an Excel extension; the stored upload may have none.
        with self.path.open("rb") as stream:
            try:
                workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True, keep_links=False)
            except Exception:   # a damaged package fails in many ways (zip, XML, missing parts), all alike
                raise UnreadableFile(_zip_problem(self.path))
            try:
                sheets = workbook.worksheets
                if not sheets:
                    raise UnreadableFile(_NO_SHEET)
                visible = [sheet for sheet in sheets if sheet.sheet_state == "visible"]
                sheet = (visible or sheets)[0]
                # Some programs write a wrong size into the file; read-only mode would trust it and cut rows.
                sheet.reset_dimensions()
                yield sheet
            finally:
                workbook.close()

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        width, skip = len(self.headers), start
        with self._sheet() as sheet:
            for number, cells in enumerate(_sheet_rows(sheet), start=1):
                if number <= self._header_number:
                    continue
                values = [_cell_text(cell) for cell in cells]
                if not values or _is_blank(values):
                    continue
                if skip:
                    skip -= 1
                    continue
                yield _shaped_row(number, values, width)

    def count(self) -> int:
        # Raw values are enough to tell a blank row (only None or blank text turns into ""), which
        # spares building a cell object per value: a third of the time of a full read.
        with self._sheet() as sheet:
            rows = itertools.islice(_sheet_rows(sheet, values_only=True), self._header_number, None)
            return sum(1 for values in rows if any(_filled(value) for value in values))


def _filled(value) -> bool:
    return value is not None and (type(value) is not str or bool(value.strip()))


def _sheet_rows(sheet, *, values_only: bool = False) -> Iterator[tuple]:
    """The sheet's rows of cells, row 1 first, with a gap in the file given as an empty row."""
    try:
        yield from sheet.iter_rows(values_only=values_only)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, SyntaxError, EOFError, OSError):
        # SyntaxError covers the XML parsers' errors: the sheet itself is damaged part-way through.
        raise UnreadableFile(_DAMAGED_EXCEL)


def _zip_problem(path: Path) -> str:
    """Why a zip file is not a readable workbook, named from what is inside it."""
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            if "mimetype" in names and b"opendocument" in package.read("mimetype"):
                return _OPENDOCUMENT
    except (zipfile.BadZipFile, OSError, KeyError):
        return _DAMAGED_EXCEL
    if "word/document.xml" in names:
        return _WORD
    if any(name.startswith("Index/") and name.endswith(".iwa") for name in names):
        return _NUMBERS
    if "[Content_Types].xml" in names:
        return _DAMAGED_EXCEL
    return _ZIP


def _cell_text(cell) -> str:
    value = cell.value
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return _integer_text(value, cell.number_format)
    if kind is float:
        if value.is_integer() and abs(value) < 1e15:
            return _integer_text(int(value), cell.number_format)
        # Excel holds 15 significant digits; any further digits are binary noise the user never saw.
        return format(value, ".15g")
    if kind is dt.datetime:
        return _datetime_text(value, cell.number_format)
    if kind is dt.date:
        return value.isoformat()
    if kind is dt.time:
        return value.isoformat(timespec="seconds")
    return str(value)


def _integer_text(number: int, number_format: str) -> str:
    template = _zero_padding(number_format)
    if not template or number < 0:
        return str(number)
    # A postal code typed as 02134 is kept as the number 2134 shown through the format "00000".
    digits = str(number).zfill(template.count("0"))
    extra = len(digits) - template.count("0")
    out, position = [digits[:extra]], extra
    for char in template:
        if char == "0":
            out.append(digits[position])
            position += 1
        else:
            out.append(char)
    return "".join(out)


@lru_cache(maxsize=256)
def _zero_padding(number_format: str) -> str:
    """The format as a template of digit places when it zero-pads whole numbers ("00000",
    "00000-0000", "000-00-0000"), else ""."""
    # Only the first section counts: it is the one that formats positive numbers.
    template = number_format.split(";")[0].replace("\\", "").replace('"', "")
    if re.fullmatch(r"0+(?:[- ]0+)*", template) and template.count("0") > 1:
        return template
    return ""


def _datetime_text(value: dt.datetime, number_format: str) -> str:
    # Excel stores a time as a fraction of a day, which can come back a hair short of the second.
    if value.microsecond:
        rounding = dt.timedelta(seconds=1 if value.microsecond >= 500_000 else 0)
        value = value.replace(microsecond=0) + rounding
    if _shows_time(number_format):
        return value.isoformat()
    # A date format shows the day alone, and a time it hides (=NOW() shown as a date) is not what the
    # user sees; a program's date cell left as General has no format to go by.
    if value.time() == dt.time() or number_format != "General":
        return value.date().isoformat()
    return value.isoformat()


@lru_cache(maxsize=256)
def _shows_time(number_format: str) -> bool:
    # Quoted text, [colour] / [$-locale] sections and escaped characters are literals, not codes.
    codes = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", number_format).lower()
    return any(code in codes for code in ("h", "s", "am/pm", "a/p"))


# -- vCard -----------------------------------------------------------------------------------

# Binary properties are dropped while a card's lines are collected: never imported, and a photo
# can be most of a phone's export.
_BINARY_PROPERTY = re.compile(r"(?:[\w-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)[;:]", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?")
_DATE_WITHOUT_YEAR = re.compile(r"--(\d{2})-?(\d{2})")
_CUT_OFF_CARD = "This card is cut off: the file or the next card starts before its END:VCARD line."
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_UNRANKED = 101   # vCard 4.0 ranks PREF from 1 (most preferred) to 100


class _VcardTable(Table):
    @classmethod
    def open(cls, path: Path, encoding: _Encoding, sample: str) -> "_VcardTable":
        if "BEGIN:VCARD" not in sample.upper():
            raise UnreadableFile(_NO_CARDS)
        table = cls(path, format="vcf", encoding=encoding.name)
        table._encoding = encoding
        table.headers = list(VCARD_HEADERS)
        return table

    def rows(self, start: int = 0) -> Iterator[SourceRow]:
        skip = start
        with _open_text(self.path, self._encoding) as text:
            for number, (lines, closed) in enumerate(_card_blocks(text), start=1):
                row = _card_row(number, lines, closed)
                if not row.problem and _is_blank(row.values):
                    continue
                if skip:
                    skip -= 1
                    continue
                yield row


def _card_blocks(lines: Iterator[str]) -> Iterator[tuple[list[str], bool]]:
    """Each card's lines from BEGIN:VCARD to END:VCARD, and whether END:VCARD was there. Cards
    are split here rather than by vobject so that one bad card cannot stop the cards after it."""
    card: list[str] | None = None
    in_binary = False
    for line in lines:
        marker = line.strip().upper()
        if marker == "BEGIN:VCARD":
            if card is not None:
                yield card, False
            card, in_binary = [line], False
        elif card is None:
            continue
        elif marker == "END:VCARD":
            card.append(line)
            yield card, True
            card = None
        elif in_binary and (not marker or line[0] in " \t" or ":" not in line):
            # Folded lines, and vCard 2.1's unfolded base64 ended by a blank line, belong to the photo.
            in_binary = bool(marker)
        elif _BINARY_PROPERTY.match(line):
            in_binary = True
        else:
            in_binary = False
            card.append(line)
    if card is not None:
        yield card, False


def _card_row(number: int, lines: list[str], closed: bool) -> SourceRow:
    found, problem = _content_lines("".join(lines))
    if not closed:
        problem = f"{_CUT_OFF_CARD} {problem}".strip()
    return SourceRow(number, _card_values(found), problem)


def _content_lines(text: str) -> tuple[dict[str, list], str]:
    """The card's properties by lower-case name, and the problem with any line that could not be
    read (left out, so the rest of the card still comes through).

    Only vobject's line parser is used (unfolding, parameters, quoted-printable): its card-level
    decoding keeps only what precedes the first comma of a NOTE or TITLE, and vCard 2.1 and many
    exporters do not escape those commas."""
    found: dict[str, list] = {}
    problem = ""
    for logical_line, line_number in vobject.base.getLogicalLines(io.StringIO(text), allowQP=True):
        try:
            line = vobject.base.textLineToContentLine(logical_line, line_number)
        except (vobject.base.VObjectError, LookupError, UnicodeError, ValueError) as exc:
            problem = problem or f"This card could not be read: {_card_error(exc)}."
            continue
        found.setdefault(line.name.lower(), []).append(line)
    return found, problem


def _card_error(exc: Exception) -> str:
    message = str(exc)
    if "Failed to parse line:" in message:
        line = message.split("Failed to parse line:", 1)[1].strip()
        return f"the line “{line[:80]}” is not a valid vCard line"
    if isinstance(exc, LookupError):
        return "it names a character set that is not known"
    if isinstance(exc, UnicodeError):
        return "its text is not in the character set it names"
    return re.sub(r"^At line \d+: ", "", message) or type(exc).__name__


def _card_values(found: dict[str, list]) -> list[str]:
    name = _parts(_first(found, "n"))
    given, family = _field(name, 1), _field(name, 0)
    address = _parts(_first(_ranked(found.get("adr", []))))
    street = ", ".join(part for part in (_field(address, 2), _field(address, 1)) if part)
    return [
        _text(_first(found, "fn")) or " ".join(part for part in (given, family) if part), given, family,
        *_padded(_ranked_texts(found.get("email", []), "mailto:"), 3),
        *_padded(_ranked_texts(found.get("tel", []), "tel:"), 3),
        _field(_parts(_first(found, "org")), 0), _text(_first(found, "title")),
        street, _field(address, 3), _field(address, 4), _field(address, 5), _field(address, 6),
        (_ranked_texts(found.get("url", []), "") or [""])[0],
        "\n".join(note for line in found.get("note", []) if (note := _text(line))),
        _birthday((found.get("bday") or [None])[0]),
        ", ".join(_categories(found.get("categories", []))),
    ]


def _first(found, name: str | None = None):
    """The first content line, from a card's contents by name or from a ranked list."""
    lines = found.get(name) if name else found
    return lines[0] if lines else None


def _text(line) -> str:
    return _unescaped(line.value).strip() if line is not None else ""


def _unescaped(raw: str) -> str:
    return _ESCAPED.sub(lambda match: "\n" if match.group(1) in "nN" else match.group(1), raw)


def _split_unescaped(raw: str, separator: str) -> list[str]:
    """Split on the separators that are not backslash-escaped, then unescape each part."""
    parts, current, chars = [], [], iter(raw)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, ""))
        elif char == separator:
            parts.append(_unescaped("".join(current)).strip())
            current = []
        else:
            current.append(char)
    parts.append(_unescaped("".join(current)).strip())
    return parts


def _parts(line) -> list[str]:
    """A structured value's components (N: family;given;..., ADR: box;extended;street;...)."""
    return _split_unescaped(line.value, ";") if line is not None else []


def _field(parts: list[str], index: int) -> str:
    return parts[index] if index < len(parts) else ""


def _padded(texts: list[str], size: int) -> list[str]:
    return (texts + [""] * size)[:size]


def _preference(line) -> int:
    """vCard 4.0 ranks with PREF=1..100; 2.1 and 3.0 only mark the preferred one (TYPE=pref, PREF)."""
    rank = line.params.get("PREF")
    if rank:
        return int(rank[0]) if rank[0].isdigit() else 1
    types = [part.lower() for value in line.params.get("TYPE", []) for part in value.split(",")]
    if "pref" in types or "PREF" in (param.upper() for param in line.singletonparams):
        return 1
    return _UNRANKED


def _ranked(lines: list) -> list:
    return sorted(lines, key=_preference)   # stable: equal ranks keep the card's order


def _ranked_texts(lines: list, scheme: str) -> list[str]:
    texts: list[str] = []
    for line in _ranked(lines):
        text = _text(line)
        if scheme and text.lower().startswith(scheme):
            text = text[len(scheme):]
        if text and text not in texts:
            texts.append(text)
    return texts


def _birthday(line) -> str:
    text = _text(line)
    if match := _DATE.fullmatch(text):
        year, month, day = match.groups()
        # iPhones write a birthday without a year as 1604 and say so in X-APPLE-OMIT-YEAR.
        if year in line.params.get("X-APPLE-OMIT-YEAR", []):
            return f"--{month}-{day}"
        return f"{year}-{month}-{day}"
    if match := _DATE_WITHOUT_YEAR.fullmatch(text):
        return "--{}-{}".format(*match.groups())
    return text


def _categories(lines: list) -> list[str]:
    names: list[str] = []
    for line in lines:
        names.extend(name for name in _split_unescaped(line.value, ",") if name and name not in names)
    return names
