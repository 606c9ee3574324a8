"""Spreadsheet cells that are safe to open: a cell that begins with = + - @ tab or CR is a
formula to Excel and LibreOffice (CSV injection), so it is written with a leading
apostrophe, which both show as text. An import takes the apostrophe off again, so a file
exported and imported back changes nothing."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def restored(text: str) -> str:
    """What `neutralised` wrote, as it was."""
    return text[1:] if text[:1] == "'" and text[1:2] and text[1:].startswith(FORMULA_STARTS) else text
