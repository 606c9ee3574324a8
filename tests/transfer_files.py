"""Import files as users bring them, written the way the real exporters write them.

Plain functions rather than pytest fixtures, so tests, benchmarks and a shell can all make one:
each takes the path to write (plus options) and returns it. Everything is seeded, so a file is the
same on every run. Where a test needs to know what a file holds, the expected values sit beside the
function that writes it (PHONE_VCARDS, EXCEL_CONTACTS, BROKEN_ROW_NUMBER...).
"""

import csv
import datetime as dt
import random
import unicodedata
from pathlib import Path

import openpyxl

FIRST_NAMES = ["Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack",
               "Kira", "Liam", "Maya", "Noah", "Olivia", "Peter", "Quinn", "Ruby", "Sam", "Tara"]
LAST_NAMES = ["Anderson", "Brown", "Clarke", "Davies", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
              "Jones", "Khan", "Lopez", "Martin", "Nguyen", "O'Brien", "Patel", "Rossi", "Smith"]
# Names that break a reader which guesses the wrong encoding.
ACCENTED_NAMES = [("Jürgen", "Müller"), ("José", "García"), ("Zoë", "Brontë"), ("Søren", "Kierkegaard"),
                  ("François", "Lefèvre"), ("Ingrid", "Åström")]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Industries", "Soylent, Inc.", "Cyberdyne Systems"]
TITLES = ["CEO", "Head of Sales", "Account Executive", "Office Manager", "CTO", "Buyer", "VP Marketing"]
# City, region, postal code, country (as the CRMs spell it), ISO code.
PLACES = [("San Francisco", "CA", "94103", "United States", "US"),
          ("Boston", "MA", "02134", "United States", "US"),
          ("New York", "NY", "10001", "United States", "US"),
          ("Austin", "TX", "73301", "United States", "US"),
          ("Berlin", "Berlin", "10115", "Germany", "DE"), ("München", "Bayern", "80331", "Germany", "DE"),
          ("London", "", "EC1A 1BB", "United Kingdom", "GB"),
          ("Lyon", "Auvergne-Rhône-Alpes", "69001", "France", "FR")]
STREETS = ["Main St", "Market Street", "Oak Avenue", "Friedrichstraße", "High Street", "Rue de la République"]
# Area codes whose 2XX exchanges libphonenumber accepts as valid numbers.
AREA_CODES = [201, 212, 415, 617, 312, 206, 305, 646, 718, 702]


def write_csv(path, headers, rows, *, encoding="utf-8", delimiter=",", bom=False,
              quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n") -> Path:
    """A CSV in any encoding; bom=True writes a byte-order mark (the "utf-16" codec always does)."""
    path = Path(path)
    with path.open("w", encoding=encoding, newline="") as stream:
        if bom and encoding.lower().replace("_", "-") not in ("utf-16", "utf-32", "utf-8-sig"):
            stream.write("\ufeff")
        writer = csv.writer(stream, delimiter=delimiter, quoting=quoting, lineterminator=lineterminator)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def us_phone(index: int) -> str:
    """A valid, distinct US number for each index below 1,000,000: +1 AAA 2XX-XXXX."""
    area = AREA_CODES[index % len(AREA_CODES)]
    return f"+1 {area} 2{index // 10_000 % 100:02d}-{index % 10_000:04d}"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace("'", "")


def _people(rows: int, seed: int, accented: bool = False):
    """Dicts of one person each; with accented=True every third person has a non-ASCII name."""
    rng = random.Random(seed)
    for index in range(rows):
        if accented and index % 3 == 1:
            first, last = ACCENTED_NAMES[index // 3 % len(ACCENTED_NAMES)]
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        domain = _ascii(company.split(",")[0]).lower().replace(" ", "") + ".example"
        city, region, postal, country, iso = rng.choice(PLACES)
        yield {
            "first": first, "last": last, "company": company, "title": rng.choice(TITLES),
            "email": f"{_ascii(first).lower()}.{_ascii(last).lower()}{index}@{domain}",
            "phone": us_phone(index * 7), "mobile": us_phone(index * 7 + 3),
            "street": f"{rng.randint(1, 999)} {rng.choice(STREETS)}", "city": city, "region": region,
            "postal": postal, "country": country, "iso": iso, "website": f"https://www.{domain}",
            "created": dt.datetime(2023, 1, 1, 9, 0) + dt.timedelta(hours=37 * index),
        }


HUBSPOT_HEADERS = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
                   "Job Title", "Company Name", "Lifecycle Stage", "Contact owner", "Street Address", "City",
                   "State/Region", "Postal Code", "Country/Region", "Website URL", "Create Date"]
LIFECYCLE_STAGES = ["Subscriber", "Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity",
                    "Customer", "Evangelist"]


def hubspot_contacts_csv(path, rows=25, *, seed=1) -> Path:
    """HubSpot's contact export: plain UTF-8, every value quoted, owner as a name."""
    owners = ["Dana Whitfield", "Marco Bianchi", ""]
    data = [[str(51_200 + index * 51), p["first"], p["last"], p["email"], p["phone"],
             p["mobile"] if index % 2 else "", p["title"], p["company"], LIFECYCLE_STAGES[index % 7],
             owners[index % 3], p["street"], p["city"], p["region"], p["postal"], p["country"], p["website"],
             p["created"].strftime("%Y-%m-%d %H:%M")]
            for index, p in enumerate(_people(rows, seed))]
    return write_csv(path, HUBSPOT_HEADERS, data, quoting=csv.QUOTE_ALL)


SALESFORCE_HEADERS = ["Contact ID", "First Name", "Last Name", "Title", "Account Name", "Email", "Phone",
                      "Mobile", "Mailing Street", "Mailing City", "Mailing State/Province",
                      "Mailing Zip/Postal Code", "Mailing Country", "Contact Owner", "Lead Source"]


def salesforce_contacts_csv(path, rows=25, *, encoding="utf-8", seed=2) -> Path:
    """A Salesforce contacts report: every value quoted, 18-character IDs, accented names; reports
    downloaded with the default Windows settings come as encoding="cp1252"."""
    sources = ["Web", "Phone Inquiry", "Partner Referral", "Trade Show", ""]
    data = [[f"0035g00000{index:05d}AAA", p["first"], p["last"], p["title"], p["company"], p["email"],
             p["phone"], p["mobile"], p["street"], p["city"], p["region"], p["postal"], p["country"],
             "Dana Whitfield", sources[index % 5]]
            for index, p in enumerate(_people(rows, seed, accented=True))]
    return write_csv(path, SALESFORCE_HEADERS, data, encoding=encoding, quoting=csv.QUOTE_ALL)


PIPEDRIVE_HEADERS = ["Person - ID", "Person - Name", "Person - Email - Work", "Person - Email - Home",
                     "Person - Phone - Work", "Person - Phone - Mobile", "Person - Organization",
                     "Person - Owner", "Person - Labels"]


def pipedrive_people_csv(path, rows=25, *, seed=3) -> Path:
    """Pipedrive's people export: one name column, a column per email and phone type, labels joined."""
    labels = ["Hot lead", "Customer, VIP", "", "Cold lead", "Warm lead"]
    data = [[str(index + 1), f"{p['first']} {p['last']}", p["email"],
             f"{_ascii(p['first']).lower()}{index}@gmail.example" if index % 3 == 0 else "",
             p["phone"], p["mobile"], p["company"], "Dana Whitfield", labels[index % 5]]
            for index, p in enumerate(_people(rows, seed))]
    return write_csv(path, PIPEDRIVE_HEADERS, data)


ZOHO_HEADERS = ["Record Id", "First Name", "Last Name", "Email", "Secondary Email", "Phone", "Mobile",
                "Title", "Account Name", "Mailing Street", "Mailing City", "Mailing State", "Mailing Zip",
                "Mailing Country", "Contact Owner"]


def zoho_contacts_csv(path, rows=25, *, seed=4) -> Path:
    """Zoho CRM's contacts export: zcrm_ record IDs, every value quoted."""
    data = [[f"zcrm_5725767000000{index:06d}", p["first"], p["last"], p["email"],
             f"{_ascii(p['first']).lower()}.{index}@outlook.example" if index % 4 == 0 else "",
             p["phone"], p["mobile"], p["title"], p["company"], p["street"], p["city"], p["region"],
             p["postal"], p["country"], "Marco Bianchi"]
            for index, p in enumerate(_people(rows, seed))]
    return write_csv(path, ZOHO_HEADERS, data, quoting=csv.QUOTE_ALL)


GOOGLE_HEADERS = ["First Name", "Middle Name", "Last Name", "Phonetic First Name", "Phonetic Middle Name",
                  "Phonetic Last Name", "Name Prefix", "Name Suffix", "Nickname", "File As",
                  "Organization Name", "Organization Title", "Organization Department", "Birthday", "Notes",
                  "Photo", "Labels", "E-mail 1 - Label", "E-mail 1 - Value", "E-mail 2 - Label",
                  "E-mail 2 - Value", "Phone 1 - Label", "Phone 1 - Value", "Phone 2 - Label",
                  "Phone 2 - Value", "Address 1 - Label", "Address 1 - Formatted", "Address 1 - Street",
                  "Address 1 - City", "Address 1 - PO Box", "Address 1 - Region", "Address 1 - Postal Code",
                  "Address 1 - Country", "Address 1 - Extended Address", "Website 1 - Label",
                  "Website 1 - Value"]
GOOGLE_LABELS = ["* myContacts", "* myContacts ::: Friends", "* starred ::: * myContacts ::: Work",
                 "* myContacts ::: Family ::: Friends"]


def google_contacts_csv(path, rows=25, *, encoding="utf-8", seed=5) -> Path:
    """Google Contacts' "Google CSV": mostly empty columns, ':::' joining several labels or values in
    one cell, multi-line formatted addresses and notes, birthdays with and without a year."""
    data = []
    for index, p in enumerate(_people(rows, seed, accented=True)):
        phones = p["mobile"] if index % 5 else f"{p['mobile']} ::: {p['phone']}"
        formatted = f"{p['street']}\n{p['city']} {p['region']} {p['postal']}\n{p['country']}"
        birthday = ["1985-04-12", "--07-30", ""][index % 3]
        notes = "Met at the trade show.\nWants a demo in Q3." if index % 4 == 0 else ""
        data.append([p["first"], "", p["last"], "", "", "", "", "", "", "", p["company"], p["title"], "",
                     birthday, notes, "", GOOGLE_LABELS[index % 4], "* Work", p["email"], "", "",
                     "Mobile", phones, "Work", p["phone"] if index % 2 else "", "Work", formatted,
                     p["street"], p["city"], "", p["region"], p["postal"], p["country"], "",
                     "Profile" if index % 3 == 0 else "", p["website"] if index % 3 == 0 else ""])
    return write_csv(path, GOOGLE_HEADERS, data, encoding=encoding)


# -- vCard ---------------------------------------------------------------------------------------

_BASE64_JPEG = ("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8M"
                "Dg8NDQ4MDQ0QERcWEBESEBAPDA8NDQ4NDhAQERAQFBMQEhUVFRYXGB8UFBQVFR0YGBgYHx0fHx8fHx8fHx8f")

_IPHONE_CARD = "\r\n".join([
    "BEGIN:VCARD", "VERSION:3.0", "PRODID:-//Apple Inc.//iPhone OS 17.2//EN",
    "N:Appleseed;Johnny;;;", "FN:Johnny Appleseed", "ORG:Acme;Sales", "TITLE:Account Executive",
    "item1.EMAIL;type=INTERNET;type=HOME:johnny@home.example",
    "item2.EMAIL;type=INTERNET;type=WORK;type=pref:johnny.appleseed@acme.example",
    "item2.X-ABLabel:_$!<Other>!$_",
    "TEL;type=WORK;type=VOICE:+1 (212) 234-9876",
    "TEL;type=CELL;type=VOICE;type=pref:+1 (415) 234-5678",
    "item3.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;United States",
    "item3.X-ABADR:us",
    # Lines longer than 75 octets are folded: the continuation starts with a space.
    "NOTE:Met at the Lisbon conference. Interested in the enterprise plan\\; follow up after the bu",
    " dget review in March.",
    "item4.URL;type=pref:https://acme.example", "item4.X-ABLabel:_$!<HomePage>!$_",
    "BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12",
    "CATEGORIES:Customers,VIP",
    "PHOTO;ENCODING=b;TYPE=JPEG:" + _BASE64_JPEG[:60],
    " " + _BASE64_JPEG[60:120], " " + _BASE64_JPEG[120:],
    "END:VCARD", ""])

# Android still exports vCard 2.1: quoted-printable UTF-8 with soft line breaks, bare TYPE words,
# and a photo as unfolded base64 ended by a blank line.
_ANDROID_CARD = "\r\n".join([
    "BEGIN:VCARD", "VERSION:2.1",
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=86r=C3=B8sk=C3=B8bing;Zo=C3=AB;;;",
    "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Zo=C3=AB =C3=86r=C3=B8sk=C3=B8bing",
    "TEL;CELL:+45 20 12 34 56", "TEL;HOME;PREF:+45 33 12 34 56", "EMAIL;HOME:zoe@example.dk",
    "ADR;HOME;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;;Vestergade 12;K=C3=B8benhavn;;1456;Danmark",
    "NOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Prefers calls in the morning. Speaks Danish, Englis=",
    "h and a little German.",
    "PHOTO;ENCODING=BASE64;JPEG:" + _BASE64_JPEG[:76], "    " + _BASE64_JPEG[76:], "",
    "END:VCARD", ""])

_BROKEN_CARD = "\r\n".join([
    "BEGIN:VCARD", "VERSION:3.0", "N:Broken;Bill;;;", "FN:Bill Broken",
    "EMAIL;type=INTERNET:bill@broken.example",
    "TEL;type=CELL;type=VOICE",       # the value and its colon were lost
    "END:VCARD", ""])

_VCARD4_CARD = "\r\n".join([
    "BEGIN:VCARD", "VERSION:4.0", "FN:Dr. Ana María Souza", "N:Souza;Ana;María;Dr.;",
    "EMAIL;TYPE=work;PREF=2:ana.souza@clinic.example", "EMAIL;TYPE=home;PREF=1:ana@home.example",
    'TEL;VALUE=uri;TYPE="voice,cell";PREF=1:tel:+55-11-91234-5678',
    "TEL;VALUE=uri;TYPE=work:tel:+55-11-3123-4567",
    "ORG:Clínica Souza", "TITLE:Director",
    "ADR;TYPE=work:;;Av. Paulista\\, 1000;São Paulo;SP;01310-100;Brazil",
    "URL:https://clinic.example", "BDAY:19790223", "CATEGORIES:Partners",
    "PHOTO:data:image/jpeg;base64," + _BASE64_JPEG,
    "END:VCARD", ""])

# What each card reads as, in file order (without the broken card); empty values are left out.
PHONE_VCARDS = [
    {"Full name": "Johnny Appleseed", "First name": "Johnny", "Last name": "Appleseed",
     "Email": "johnny.appleseed@acme.example", "Email 2": "johnny@home.example",
     "Phone": "+1 (415) 234-5678", "Phone 2": "+1 (212) 234-9876", "Organization": "Acme",
     "Title": "Account Executive", "Street": "1 Infinite Loop", "City": "Cupertino", "Region": "CA",
     "Postal code": "95014", "Country": "United States", "Website": "https://acme.example",
     "Note": "Met at the Lisbon conference. Interested in the enterprise plan; follow up after the "
             "budget review in March.",
     "Birthday": "--04-12", "Categories": "Customers, VIP"},
    {"Full name": "Zoë Ærøskøbing", "First name": "Zoë", "Last name": "Ærøskøbing",
     "Email": "zoe@example.dk", "Phone": "+45 33 12 34 56", "Phone 2": "+45 20 12 34 56",
     "Street": "Vestergade 12", "City": "København", "Postal code": "1456", "Country": "Danmark",
     "Note": "Prefers calls in the morning. Speaks Danish, English and a little German."},
    {"Full name": "Dr. Ana María Souza", "First name": "Ana", "Last name": "Souza",
     "Email": "ana@home.example", "Email 2": "ana.souza@clinic.example",
     "Phone": "+55-11-91234-5678", "Phone 2": "+55-11-3123-4567", "Organization": "Clínica Souza",
     "Title": "Director", "Street": "Av. Paulista, 1000", "City": "São Paulo", "Region": "SP",
     "Postal code": "01310-100", "Country": "Brazil", "Website": "https://clinic.example",
     "Birthday": "1979-02-23", "Categories": "Partners"},
]
BROKEN_CARD_NUMBER = 3
BROKEN_CARD_SALVAGE = {"Full name": "Bill Broken", "First name": "Bill", "Last name": "Broken",
                       "Email": "bill@broken.example"}


def phone_vcards(path, *, broken=False) -> Path:
    """A phone's contacts export: an iPhone 3.0 card, an Android 2.1 card and a 4.0 card, with a
    corrupt card as number BROKEN_CARD_NUMBER when broken=True. PHONE_VCARDS holds the values."""
    cards = [_IPHONE_CARD, _ANDROID_CARD, *([_BROKEN_CARD] if broken else []), _VCARD4_CARD]
    path = Path(path)
    path.write_bytes("".join(cards).encode("utf-8"))
    return path


# -- Excel ---------------------------------------------------------------------------------------

EXCEL_HEADERS = ["Name", "Email", "Signed up", "Last contacted", "Postal code", "Employees", "Score",
                 "Customer", "Notes"]
# Row number -> values as read; row 4 is blank, and still counts.
EXCEL_CONTACTS = {
    2: ["Ann Archer", "ann@archer.example", "2024-03-01", "2024-03-05T14:30:00", "02134", "250", "4.5",
        "true", ""],
    3: ["Bob Baker", "bob@baker.example", "2023-11-20", "", "00501", "12", "3", "false", "Prefers email"],
    5: ["Cara Cole", "cara@cole.example", "2022-01-15", "2022-02-01T09:00:00", "94103", "0", "0.3", "true",
        "Line one\nLine two"],
}


def excel_contacts_xlsx(path) -> Path:
    """A workbook as Excel users keep one: dates as datetimes and dates, a postal code stored as a
    number shown through "00000", another typed as text, whole and fractional numbers, booleans, a
    blank row, and a second sheet that is not the data. EXCEL_CONTACTS holds the values."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Contacts"
    sheet.append(EXCEL_HEADERS)
    rows = [
        ["Ann Archer", "ann@archer.example", dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 5, 14, 30),
         2134, 250, 4.5, True, None],
        ["Bob Baker", "bob@baker.example", dt.date(2023, 11, 20), None, "00501", 12, 3.0, False,
         "Prefers email"],
        [None] * 9,
        ["Cara Cole", "cara@cole.example", dt.datetime(2022, 1, 15), dt.datetime(2022, 2, 1, 9, 0),
         94103, 0, 0.1 + 0.2, True, "Line one\nLine two"],
    ]
    for values in rows:
        sheet.append(values)
    for row in sheet.iter_rows(min_row=2):
        row[2].number_format = "yyyy-mm-dd"
        row[3].number_format = "yyyy-mm-dd hh:mm"
        if isinstance(row[4].value, int):
            row[4].number_format = "00000"
    workbook.create_sheet("Notes").append(["Exported from the sales team's shared drive"])
    path = Path(path)
    workbook.save(path)
    return path


# -- Rows for the import engine ------------------------------------------------------------------

BROKEN_ROW_NUMBER = 11
INVALID_EMAIL_ROW_NUMBER = 6
CONTACT_HEADERS = ["First Name", "Last Name", "Email", "Phone", "Company"]


def csv_with_broken_row(path, rows=20, *, seed=6) -> Path:
    """`rows` contacts where row BROKEN_ROW_NUMBER (spreadsheet numbering) has one value too many and
    row INVALID_EMAIL_ROW_NUMBER has the email "not-an-email"; everything else is valid."""
    data = []
    for index, p in enumerate(_people(rows, seed)):
        number = index + 2
        values = [p["first"], p["last"], p["email"], p["phone"], p["company"]]
        if number == INVALID_EMAIL_ROW_NUMBER:
            values[2] = "not-an-email"
        if number == BROKEN_ROW_NUMBER:
            values.append("an extra value")
        data.append(values)
    return write_csv(path, CONTACT_HEADERS, data)


BIG_HEADERS = ["First Name", "Last Name", "Email", "Phone", "Company", "City", "Country"]


def big_contacts_csv(path, rows=50_000, *, seed=7) -> Path:
    """A large plain export, quick to write: unique emails (person{i}@example.com), valid and
    distinct US numbers, and names, companies and cities from small pools."""
    rng = random.Random(seed)
    firsts = [rng.choice(FIRST_NAMES) for _ in range(997)]
    lasts = [rng.choice(LAST_NAMES) for _ in range(991)]
    cities = [place[0] for place in PLACES if place[4] == "US"]
    data = ([firsts[index % 997], lasts[index % 991], f"person{index}@example.com", us_phone(index),
             COMPANIES[index % len(COMPANIES)], cities[index % len(cities)], "US"]
            for index in range(rows))
    return write_csv(path, BIG_HEADERS, data)
