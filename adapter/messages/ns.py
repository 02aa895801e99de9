"""XML namespaces of the messages the adapter reads and writes."""

from __future__ import annotations

from typing import Final

MSGHEAD: Final = "http://www.kith.no/xmlstds/msghead/2006-05-24"
DIALOG: Final = "http://www.kith.no/xmlstds/dialog/2013-01-23"
FK1: Final = "http://www.kith.no/xmlstds/felleskomponent1"
XCAL: Final = "urn:ietf:params:xml:ns:icalendar-2.0"
PASIENTRELASJON: Final = "http://www.kith.no/xmlstds/pasientrelasjon/2014-03-28"
HELSEPERSONELL_2014: Final = "http://www.kith.no/xmlstds/helsepersonell/2014-03-28"
HELSEPERSONELL_2015: Final = "http://www.kith.no/xmlstds/helsepersonell/2015-05-04"
APPREC_10: Final = "http://www.kith.no/xmlstds/apprec/2004-11-21"
APPREC_11: Final = "http://www.kith.no/xmlstds/apprec/2012-02-15"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"

#: Prefix map for XPath and findall.
NSMAP: Final[dict[str, str]] = {
    "mh": MSGHEAD,
    "dm": DIALOG,
    "fk1": FK1,
    "ic": XCAL,
    "pr": PASIENTRELASJON,
    "hp14": HELSEPERSONELL_2014,
    "hp15": HELSEPERSONELL_2015,
    "ar10": APPREC_10,
    "ar11": APPREC_11,
    "xsi": XSI,
}


def q(ns: str, local: str) -> str:
    """Clark notation ``{ns}local`` for lxml."""
    return f"{{{ns}}}{local}"
