"""What the import reader promises: any CSV a user has, .xlsx and vCard come out as headers and
numbered rows of strings, a broken row is reported without stopping the rest, and a file that
cannot be read at all is refused with a sentence the user can act on."""

import csv
import datetime as dt
import io
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rapport.transfer.readers import VCARD_HEADERS, SourceRow, UnreadableFile, open_table
from tests import transfer_files as files

HEADERS = ["Name", "Email", "City"]
PEOPLE = [["Zoë Brontë", "zoe@example.com", "Zürich"], ["José García", "jose@example.com", "Málaga"]]


def values_of(table) -> list[list[str]]:
    return [row.values for row in table.rows()]


def as_dicts(table) -> list[dict]:
    """Each row's non-empty values by header."""
    return [{header: value for header, value in zip(table.headers, row.values, strict=True) if value}
            for row in table.rows()]


# -- Encodings --------------------------------------------------------------------------------

def test_plain_utf8_is_read_as_utf8(tmp_path):
    table = open_table(files.write_csv(tmp_path / "people.csv", HEADERS, PEOPLE))
    assert (table.format, table.encoding, table.delimiter) == ("csv", "utf-8", ",")
    assert table.headers == HEADERS
    assert values_of(table) == PEOPLE


def test_the_byte_order_mark_of_utf8_is_not_part_of_the_first_header(tmp_path):
    table = open_table(files.write_csv(tmp_path / "excel.csv", HEADERS, PEOPLE, bom=True))
    assert table.encoding == "utf-8-sig"
    assert table.headers[0] == "Name"
    assert values_of(table) == PEOPLE


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_read_in_either_byte_order(tmp_path, encoding):
    table = open_table(files.write_csv(tmp_path / "outlook.csv", HEADERS, PEOPLE, encoding=encoding,
                                       bom=True))
    assert table.encoding == "utf-16"
    assert table.headers == HEADERS
    assert values_of(table) == PEOPLE


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_recognised_by_its_nul_bytes(tmp_path, encoding):
    table = open_table(files.write_csv(tmp_path / "export.csv", HEADERS, PEOPLE, encoding=encoding))
    assert table.encoding == encoding
    assert values_of(table) == PEOPLE


def test_windows_1252_keeps_smart_quotes_and_the_euro_sign(tmp_path):
    rows = [["Renée O’Hara", "renee@example.com", "“Paris”"], ["Budget", "€ 1.200", "Köln"]]
    table = open_table(files.write_csv(tmp_path / "report.csv", HEADERS, rows, encoding="cp1252"))
    assert table.encoding == "cp1252"
    assert values_of(table) == rows


def test_latin1_accents_read_correctly_when_no_byte_is_undefined_in_windows_1252(tmp_path):
    rows = [["Hélène Dupré", "helene@example.fr", "Orléans"]]
    table = open_table(files.write_csv(tmp_path / "latin1.csv", HEADERS, rows, encoding="latin-1"))
    # Windows-1252 and Latin-1 agree on every letter; reading as Windows-1252 is the safer guess.
    assert table.encoding == "cp1252"
    assert values_of(table) == rows


def test_a_byte_undefined_in_windows_1252_means_latin1(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"Name,Note\r\nH\xe9l\xe8ne,control \x81 byte\r\n")
    table = open_table(path)
    assert table.encoding == "latin-1"
    assert values_of(table) == [["Hélène", "control \x81 byte"]]


def test_a_character_cut_in_two_by_the_end_of_the_sample_is_still_utf8(tmp_path):
    path = tmp_path / "long.csv"
    prefix = "Name,Note\r\n" + "a,b\r\n" * 10
    filler = "x" * (64 * 1024 - len(prefix.encode()) - 3)
    # "é" is two bytes in UTF-8: the first is the last byte of the 64 KB sample, the second is not in it.
    path.write_bytes((prefix + "Ann," + filler[:-2] + "é\r\nBob,ok\r\n").encode())
    assert path.read_bytes()[64 * 1024 - 1] == 0xC3
    table = open_table(path)
    assert table.encoding == "utf-8"
    assert [row.values[1][-1] for row in table.rows()][-2:] == ["é", "k"]


def test_a_stray_windows_1252_byte_after_the_sample_does_not_stop_the_read(tmp_path):
    path = tmp_path / "mixed.csv"
    ascii_rows = "".join(f"Person {index},p{index}@example.com\r\n" for index in range(5000))
    path.write_bytes(b"Name,Email\r\n" + ascii_rows.encode() + b"J\xfcrgen M\xfcller,jm@example.de\r\n")
    table = open_table(path)
    assert table.encoding == "utf-8"
    rows = list(table.rows())
    assert rows[-1].values == ["Jürgen Müller", "jm@example.de"]
    assert len(rows) == 5001


# -- Delimiters and quoting -------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_recognised_with_the_others_inside_values(tmp_path, delimiter):
    rows = [["Smith, John", "john@example.com", "Paris; France"],
            ["Ann | Co", "ann@example.com", "Tab\there"]]
    table = open_table(files.write_csv(tmp_path / "people.txt", HEADERS, rows, delimiter=delimiter))
    assert table.delimiter == delimiter
    assert values_of(table) == rows


def test_a_semicolon_file_with_decimal_commas_is_not_taken_for_commas(tmp_path):
    rows = [["Ann", "1,5", "2,75"], ["Bob", "3,0", "4,25"], ["Cid", "0,5", "1,0"]]
    table = open_table(files.write_csv(tmp_path / "de.csv", ["Name", "Score", "Rate"], rows, delimiter=";"))
    assert table.delimiter == ";"
    assert values_of(table) == rows


def test_excels_sep_line_names_the_delimiter_and_is_not_a_row(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("sep=|\r\nName|Email\r\nAnn|ann@example.com\r\n")
    table = open_table(path)
    assert (table.delimiter, table.headers) == ("|", ["Name", "Email"])
    assert list(table.rows()) == [SourceRow(2, ["Ann", "ann@example.com"])]


def test_a_single_column_file_is_a_table_of_one_column(tmp_path):
    path = tmp_path / "emails.csv"
    path.write_text("Email\nann@example.com\nbob@example.com\n")
    table = open_table(path)
    assert table.headers == ["Email"]
    assert values_of(table) == [["ann@example.com"], ["bob@example.com"]]


def test_quoted_values_keep_delimiters_quotes_and_line_breaks_and_stay_one_row(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(b'Name,Note,Email\r\n'
                     b'"Smith, John","He said ""call me""\r\nafter 5pm",john@example.com\r\n'
                     b'Ann,"",ann@example.com\r\n')
    table = open_table(path)
    assert list(table.rows()) == [
        SourceRow(2, ["Smith, John", 'He said "call me"\r\nafter 5pm', "john@example.com"]),
        SourceRow(3, ["Ann", "", "ann@example.com"]),   # numbered as a spreadsheet shows it
    ]


# -- Headers ----------------------------------------------------------------------------------

def test_blank_headers_are_named_by_position_and_repeats_are_numbered(tmp_path):
    path = tmp_path / "headers.csv"
    path.write_text(" Email ,Name,,Email,email,Email (2)\na,b,c,d,e,f\n")
    assert open_table(path).headers == ["Email", "Name", "Column 3", "Email (2)", "email (3)",
                                        "Email (2) (2)"]


def test_blank_lines_above_the_header_are_skipped_but_counted(tmp_path):
    path = tmp_path / "padded.csv"
    path.write_text("\n,,\nName,Email\nAnn,ann@example.com\n")
    table = open_table(path)
    assert table.headers == ["Name", "Email"]
    assert [row.number for row in table.rows()] == [4]


# -- Rows -------------------------------------------------------------------------------------

def test_short_rows_are_padded_and_blank_values_past_the_header_are_ignored(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("Name,Email,City\nAnn\nBob,bob@example.com,Oslo,,\n")
    assert list(open_table(path).rows()) == [SourceRow(2, ["Ann", "", ""]),
                                             SourceRow(3, ["Bob", "bob@example.com", "Oslo"])]


def test_a_row_with_too_many_values_is_reported_by_number_and_later_rows_still_come(tmp_path):
    table = open_table(files.csv_with_broken_row(tmp_path / "broken.csv"))
    rows = list(table.rows())
    assert [row.number for row in rows] == list(range(2, 22))
    broken = [row for row in rows if row.problem]
    assert [row.number for row in broken] == [files.BROKEN_ROW_NUMBER]
    assert broken[0].problem == "Row has 6 values but the header has 5 columns."
    assert len(broken[0].values) == 5
    # An invalid email is the engine's business, not the reader's.
    assert rows[files.INVALID_EMAIL_ROW_NUMBER - 2].values[2] == "not-an-email"


def test_a_quote_never_closed_is_a_problem_of_its_row(tmp_path):
    path = tmp_path / "unclosed.csv"
    path.write_text('Name,Note\nAnn,fine\nBob,"never closed\nCid,swallowed\n')
    rows = list(open_table(path).rows())
    assert rows[0] == SourceRow(2, ["Ann", "fine"])
    assert rows[1].number == 3
    assert rows[1].problem.startswith("Unterminated quoted field")


def test_a_value_over_a_megabyte_is_a_row_problem_and_the_read_goes_on(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text(f"Name,Note\nAnn,{'x' * (1024 * 1024 + 10)}\nBob,short\n")
    rows = list(open_table(path).rows())
    assert [row.number for row in rows] == [2, 3]
    assert "longer than 1 MB" in rows[0].problem
    assert rows[1] == SourceRow(3, ["Bob", "short"])


def test_a_line_with_no_end_is_read_in_bounded_pieces(tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text("Name,Note\nAnn," + "y," * (3 * 1024 * 1024) + "\nBob,short\n")
    rows = list(open_table(path).rows())
    assert rows[0].number == 2 and rows[0].problem
    assert rows[1] == SourceRow(3, ["Bob", "short"])


def test_blank_rows_are_skipped_but_keep_their_numbers(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("Name,Email\nAnn,a@example.com\n\n , \n,,\nBob,b@example.com\n")
    table = open_table(path)
    assert [row.number for row in table.rows()] == [2, 6]
    assert table.count() == 2


@pytest.mark.parametrize("make", [
    lambda tmp: files.hubspot_contacts_csv(tmp / "hubspot.csv", rows=12),
    lambda tmp: files.excel_contacts_xlsx(tmp / "contacts.xlsx"),
    lambda tmp: files.phone_vcards(tmp / "phone.vcf", broken=True),
], ids=["csv", "xlsx", "vcf"])
def test_rows_from_start_resume_after_that_many_rows_with_the_same_numbers(tmp_path, make):
    table = open_table(make(tmp_path))
    everything = list(table.rows())
    assert table.count() == len(everything)
    for start in (0, 1, 2, len(everything), len(everything) + 5):
        assert list(table.rows(start=start)) == everything[start:]


def test_rows_can_be_read_again_and_side_by_side(tmp_path):
    table = open_table(files.csv_with_broken_row(tmp_path / "contacts.csv"))
    first, second = table.rows(), table.rows()
    assert next(first).number == next(second).number == 2
    assert len(list(first)) == len(list(second)) == 19


# -- What the CRMs export ---------------------------------------------------------------------

@pytest.mark.parametrize(("make", "headers"), [
    (files.hubspot_contacts_csv, files.HUBSPOT_HEADERS),
    (files.salesforce_contacts_csv, files.SALESFORCE_HEADERS),
    (files.pipedrive_people_csv, files.PIPEDRIVE_HEADERS),
    (files.zoho_contacts_csv, files.ZOHO_HEADERS),
    (files.google_contacts_csv, files.GOOGLE_HEADERS),
])
def test_crm_exports_read_with_their_headers_and_every_row(tmp_path, make, headers):
    table = open_table(make(tmp_path / "export.csv", rows=30))
    assert table.headers == headers
    rows = list(table.rows())
    assert [row.number for row in rows] == list(range(2, 32))
    assert not [row for row in rows if row.problem]
    assert all(len(row.values) == len(headers) for row in rows)


def test_a_salesforce_report_in_windows_1252_keeps_its_accented_names(tmp_path):
    table = open_table(files.salesforce_contacts_csv(tmp_path / "report.csv", encoding="cp1252"))
    assert table.encoding == "cp1252"
    names = {(row.values[1], row.values[2]) for row in table.rows()}
    assert {("Jürgen", "Müller"), ("José", "García"), ("Zoë", "Brontë"), ("Søren", "Kierkegaard")} <= names


def test_google_contacts_keep_multi_line_addresses_and_joined_labels(tmp_path):
    table = open_table(files.google_contacts_csv(tmp_path / "contacts.csv", encoding="utf-16"))
    first = as_dicts(table)[0]
    assert first["Labels"] == "* myContacts"
    assert first["Address 1 - Formatted"].count("\n") == 2
    assert " ::: " in first["Phone 1 - Value"]


# -- Excel ------------------------------------------------------------------------------------

def test_xlsx_cells_come_out_as_the_user_sees_them(tmp_path):
    table = open_table(files.excel_contacts_xlsx(tmp_path / "contacts.xlsx"))
    assert (table.format, table.encoding, table.delimiter) == ("xlsx", None, None)
    assert table.headers == files.EXCEL_HEADERS
    assert {row.number: row.values for row in table.rows()} == files.EXCEL_CONTACTS


def test_xlsx_is_read_whole_even_when_the_file_misstates_its_size(tmp_path):
    path = files.excel_contacts_xlsx(tmp_path / "contacts.xlsx")
    shrunk = tmp_path / "shrunk.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(shrunk, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:I5" />', b'<dimension ref="A1" />')
                assert b'<dimension ref="A1" />' in data
            target.writestr(item, data)
    table = open_table(shrunk)
    assert table.headers == files.EXCEL_HEADERS
    assert {row.number: row.values for row in table.rows()} == files.EXCEL_CONTACTS


def test_xlsx_rows_too_long_for_the_header_are_reported(tmp_path):
    workbook = openpyxl.Workbook()
    for values in (["Name", "Email"], ["Ann", "ann@example.com", None, None], ["Bob", "b@x.com", "extra"]):
        workbook.active.append(values)
    workbook.save(tmp_path / "extra.xlsx")
    rows = list(open_table(tmp_path / "extra.xlsx").rows())
    assert rows[0] == SourceRow(2, ["Ann", "ann@example.com"])
    assert rows[1].problem == "Row has 3 values but the header has 2 columns."


@pytest.mark.parametrize(("value", "number_format", "expected"), [
    (dt.datetime(2024, 3, 1, 14, 30), "yyyy-mm-dd", "2024-03-01"),          # what the user sees
    (dt.datetime(2024, 3, 1, 14, 30), "m/d/yy h:mm", "2024-03-01T14:30:00"),
    (dt.datetime(2024, 3, 1), "yyyy-mm-dd h:mm:ss", "2024-03-01T00:00:00"),
    (dt.datetime(2024, 3, 1), '[$-409]d" de "mmmm', "2024-03-01"),
    (2134, "00000;[Red]-00000", "02134"),
    (21340001, "00000-0000", "02134-0001"),
    (123456789, "000-00-0000", "123-45-6789"),
    (-7, "00000", "-7"),
    (7, "0", "7"),
    (12.0, "0.00", "12"),
    (1e20, "General", "1e+20"),
    (0.1 + 0.2, "General", "0.3"),
    (-2.5, "General", "-2.5"),
    (False, "General", "false"),
])
def test_xlsx_numbers_and_dates_follow_their_number_format(tmp_path, value, number_format, expected):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Value"])
    workbook.active.append([value])
    workbook.active["A2"].number_format = number_format
    workbook.save(tmp_path / "formats.xlsx")
    assert values_of(open_table(tmp_path / "formats.xlsx")) == [[expected]]


def test_a_workbook_damaged_part_way_through_is_refused_when_read(tmp_path):
    path = files.excel_contacts_xlsx(tmp_path / "contacts.xlsx")
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) * 2 // 3]
            target.writestr(item, data)
    table = open_table(damaged)
    with pytest.raises(UnreadableFile, match="damaged"):
        list(table.rows())


def test_a_tab_separated_file_saved_as_xls_is_read_as_the_text_it_is(tmp_path):
    path = files.write_csv(tmp_path / "export.xls", HEADERS, PEOPLE, delimiter="\t")
    table = open_table(path)
    assert (table.format, table.delimiter) == ("csv", "\t")
    assert values_of(table) == PEOPLE


# -- vCard ------------------------------------------------------------------------------------

def test_vcards_from_iphone_android_and_version_4_read_into_fixed_columns(tmp_path):
    table = open_table(files.phone_vcards(tmp_path / "contacts.vcf"))
    assert (table.format, table.encoding, table.delimiter) == ("vcf", "utf-8", None)
    assert table.headers == VCARD_HEADERS
    assert [row.number for row in table.rows()] == [1, 2, 3]
    assert as_dicts(table) == files.PHONE_VCARDS


def test_a_corrupt_card_is_reported_and_the_cards_after_it_still_come(tmp_path):
    table = open_table(files.phone_vcards(tmp_path / "contacts.vcf", broken=True))
    rows = list(table.rows())
    assert [row.number for row in rows] == [1, 2, 3, 4]
    broken = rows[files.BROKEN_CARD_NUMBER - 1]
    assert broken.problem.startswith("This card could not be read:")
    assert "TEL;type=CELL;type=VOICE" in broken.problem
    assert as_dicts(table)[files.BROKEN_CARD_NUMBER - 1] == files.BROKEN_CARD_SALVAGE
    assert [row for row in as_dicts(table) if row != files.BROKEN_CARD_SALVAGE] == files.PHONE_VCARDS


def test_a_card_cut_off_by_the_end_of_the_file_is_reported_with_what_it_has(tmp_path):
    path = tmp_path / "cut.vcf"
    path.write_text("BEGIN:VCARD\nVERSION:3.0\nFN:Ann Archer\nEMAIL:ann@example.com\n"
                    "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Baker\n")
    rows = list(open_table(path).rows())
    assert [(row.number, row.values[0], row.values[3]) for row in rows] == [
        (1, "Ann Archer", "ann@example.com"), (2, "Bob Baker", "")]
    assert all(row.problem.startswith("This card is cut off") for row in rows)


def test_photos_are_left_out_and_preferred_numbers_come_first(tmp_path):
    path = tmp_path / "pref.vcf"
    path.write_text("BEGIN:VCARD\nVERSION:2.1\nN:Nguyen;Maya\nTEL;WORK:+1 212 234 0001\n"
                    "PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD\n/2wBDAAMCAgICAgMCAgIDAwMD\n\n"
                    "TEL;CELL;PREF:+1 212 234 0002\nEND:VCARD\n")
    row = next(open_table(path).rows())
    assert row.problem == ""
    assert row.values[:3] == ["Maya Nguyen", "Maya", "Nguyen"]
    assert row.values[6:8] == ["+1 212 234 0002", "+1 212 234 0001"]


# -- Choosing the format ----------------------------------------------------------------------

def test_the_uploaded_filename_decides_the_format_not_the_stored_name(tmp_path):
    stored = files.phone_vcards(tmp_path / "upload-8f3a")
    assert open_table(stored, filename="C:\\Users\\ann\\Desktop\\contacts.vcf").format == "vcf"


@pytest.mark.parametrize(("make", "expected"), [
    (lambda path: files.excel_contacts_xlsx(path), "xlsx"),
    (lambda path: files.phone_vcards(path), "vcf"),
    (lambda path: files.hubspot_contacts_csv(path), "csv"),
])
def test_without_an_extension_the_content_decides(tmp_path, make, expected):
    assert open_table(make(tmp_path / "upload")).format == expected


def test_a_workbook_named_csv_is_still_read_as_a_workbook(tmp_path):
    path = files.excel_contacts_xlsx(tmp_path / "contacts.xlsx").rename(tmp_path / "contacts.csv")
    assert open_table(path).format == "xlsx"


# -- Files that cannot be read ----------------------------------------------------------------

def refusal(path, filename=None) -> str:
    with pytest.raises(UnreadableFile) as caught:
        open_table(path, filename=filename)
    message = str(caught.value)
    # A sentence for the user: no exception names, no Python repr.
    assert message[0].isupper() and message.endswith(".")
    assert "Error" not in message and "<" not in message
    return message


OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def test_an_old_xls_file_is_refused_with_how_to_convert_it(tmp_path):
    path = tmp_path / "contacts.xls"
    path.write_bytes(OLE2_HEADER)
    message = refusal(path)
    assert ".xls" in message and ".xlsx" in message and "CSV" in message


def test_a_password_protected_workbook_is_refused_as_such(tmp_path):
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(OLE2_HEADER)
    assert "password" in refusal(path)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert refusal(path) == "The file is empty."


@pytest.mark.parametrize("content", [b"\r\n\r\n", b",,,\n , \n", b"\xef\xbb\xbf\n"])
def test_a_file_without_a_header_row_is_refused(tmp_path, content):
    path = tmp_path / "blank.csv"
    path.write_bytes(content)
    assert "no header row" in refusal(path)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    assert "not a CSV, Excel or vCard file" in refusal(path)


def test_a_pdf_is_refused(tmp_path):
    path = tmp_path / "contacts.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    assert "PDF" in refusal(path)


def test_a_damaged_workbook_is_refused(tmp_path):
    good = files.excel_contacts_xlsx(tmp_path / "good.xlsx").read_bytes()
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(good[: len(good) // 2])
    assert "damaged" in refusal(path)


def test_an_opendocument_spreadsheet_is_refused_with_how_to_convert_it(tmp_path):
    path = tmp_path / "upload"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        package.writestr("content.xml", "<office:document-content/>")
    assert ".ods" in refusal(path, filename="contacts.ods")
    assert ".ods" in refusal(path)


def test_a_vcf_without_cards_is_refused(tmp_path):
    path = tmp_path / "contacts.vcf"
    path.write_text("Name,Email\nAnn,ann@example.com\n")
    assert "No contacts" in refusal(path)


PIECES = [b",", b";", b"\t", b"|", b'"', b"\n", b"\r\n", b"a", b" ", b"\xc3\xa9", b"\xe9", b"\x81", b"\x00",
          b"\xff\xfe", b"sep=;\n", b"BEGIN:VCARD\n", b"END:VCARD\n", b"FN:", b"N:", b"PHOTO:", b"=\n",
          b"ENCODING=QUOTED-PRINTABLE:", b"=C3"]


@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=300) | st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join),
       extension=st.sampled_from([".csv", ".vcf", ".txt", ""]))
def test_any_content_is_either_read_into_well_formed_rows_or_refused(content, extension):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{extension}"
        path.write_bytes(content)
        try:
            table = open_table(path)
        except UnreadableFile:
            return
        rows = list(table.rows())
        assert len({header.casefold() for header in table.headers}) == len(table.headers)
        assert all(len(row.values) == len(table.headers) for row in rows)
        assert all(isinstance(value, str) for row in rows for value in row.values)
        assert [row.number for row in rows] == sorted({row.number for row in rows})
        assert table.count() == len(rows)
        assert list(table.rows(start=1)) == rows[1:]


# -- Streaming --------------------------------------------------------------------------------

def test_reading_200k_rows_keeps_memory_flat(tmp_path):
    path = files.big_contacts_csv(tmp_path / "big.csv", rows=200_000)
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        last = None
        for last in open_table(path).rows():   # noqa: B007 - only the last row is kept
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last.number == 200_001
    assert last.values[2] == "person199999@example.com"
    assert peak < 3_000_000, f"peak {peak:,} bytes while streaming a {path.stat().st_size:,}-byte file"


def test_the_big_file_has_unique_emails_and_valid_phone_numbers(tmp_path):
    import phonenumbers

    path = files.big_contacts_csv(tmp_path / "big.csv", rows=2_000)
    rows = list(csv.reader(io.StringIO(path.read_text())))[1:]
    assert len({row[2] for row in rows}) == 2_000
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(row[3])) for row in rows[::97])
