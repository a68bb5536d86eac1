"""Embedded US geography: ZIP prefixes, telephone area codes, Massachusetts towns (for Synthea)."""

from __future__ import annotations

# HIPAA Safe Harbor: three-digit ZIP prefixes whose combined population is 20,000 or fewer (2010
# census) must become "000". They are over-represented here so the rule is exercised on small runs.
RESTRICTED_ZIP3: tuple[str, ...] = (
    "036", "059", "102", "203", "205", "369", "556", "692", "753", "772", "821", "823", "878", "879", "884",
    "893",
)  # fmt: skip

# Ordinary prefixes from across the country; the 0xx ones (New England, New Jersey) have the leading
# zero that spreadsheets and integer columns silently drop.
ZIP3: tuple[str, ...] = (
    "010", "011", "012", "014", "016", "017", "018", "019", "021", "022", "024", "025", "026", "027",
    "028", "029", "030", "031", "033", "038", "040", "041", "044", "048", "050", "054", "056", "060",
    "061", "064", "066", "068", "070", "071", "073", "076", "077", "079", "080", "085", "088",
    "100", "101", "104", "112", "117", "120", "130", "142", "146", "150", "152", "168", "191", "197",
    "200", "207", "212", "221", "232", "275", "282", "296", "303", "321", "331", "336", "352", "372",
    "381", "402", "430", "441", "452", "462", "481", "482", "503", "531", "553", "601", "606", "631",
    "641", "660", "681", "701", "731", "750", "752", "770", "782", "787", "802", "840", "850", "852",
    "870", "891", "900", "902", "921", "941", "945", "958", "967", "972", "980", "981", "995",
)  # fmt: skip

AREA_CODES: tuple[str, ...] = (
    "201", "202", "203", "205", "206", "207", "212", "213", "214", "215", "216", "217", "301", "302",
    "303", "304", "305", "312", "313", "314", "315", "401", "402", "404", "405", "406", "407", "408",
    "410", "412", "413", "414", "415", "501", "502", "503", "504", "505", "508", "512", "513", "515",
    "517", "601", "602", "603", "605", "608", "609", "612", "614", "615", "617", "701", "702", "703",
    "704", "706", "707", "708", "712", "713", "714", "716", "718", "774", "781", "801", "802", "803",
    "804", "808", "810", "812", "813", "814", "816", "817", "818", "857", "860", "901", "903", "904",
    "907", "908", "910", "912", "913", "914", "916", "917", "918", "919", "978",
)  # fmt: skip

# (town, county, zip codes, latitude, longitude): Synthea's own export is Massachusetts only.
MA_TOWNS: tuple[tuple[str, str, tuple[str, ...], float, float], ...] = (
    ("Boston", "Suffolk County", ("02108", "02115", "02116", "02118", "02127", "02130"), 42.3601, -71.0589),
    ("Cambridge", "Middlesex County", ("02138", "02139", "02140", "02141"), 42.3736, -71.1097),
    ("Somerville", "Middlesex County", ("02143", "02144", "02145"), 42.3876, -71.0995),
    ("Worcester", "Worcester County", ("01602", "01604", "01605", "01609"), 42.2626, -71.8023),
    ("Springfield", "Hampden County", ("01103", "01104", "01108", "01109"), 42.1015, -72.5898),
    ("Lowell", "Middlesex County", ("01850", "01851", "01852", "01854"), 42.6334, -71.3162),
    ("Quincy", "Norfolk County", ("02169", "02170", "02171"), 42.2529, -71.0023),
    ("Newton", "Middlesex County", ("02458", "02459", "02460", "02465"), 42.3370, -71.2092),
    ("Brockton", "Plymouth County", ("02301", "02302"), 42.0834, -71.0184),
    ("Lynn", "Essex County", ("01902", "01904", "01905"), 42.4668, -70.9495),
    ("Salem", "Essex County", ("01970",), 42.5195, -70.8967),
    ("Plymouth", "Plymouth County", ("02360",), 41.9584, -70.6673),
    ("Barnstable", "Barnstable County", ("02630", "02601"), 41.7003, -70.3002),
    ("Mashpee", "Barnstable County", ("02649",), 41.6484, -70.4811),
    ("Orleans", "Barnstable County", ("02653",), 41.7898, -69.9900),
    ("Pittsfield", "Berkshire County", ("01201",), 42.4501, -73.2454),
    ("Northampton", "Hampshire County", ("01060",), 42.3251, -72.6412),
    ("Greenfield", "Franklin County", ("01301",), 42.5876, -72.5995),
    ("New Bedford", "Bristol County", ("02740", "02744", "02745", "02746"), 41.6362, -70.9342),
    ("Fall River", "Bristol County", ("02720", "02721", "02723", "02724"), 41.7015, -71.1550),
    ("Framingham", "Middlesex County", ("01701", "01702"), 42.2793, -71.4162),
    ("Winchester", "Middlesex County", ("01890",), 42.4523, -71.1370),
    ("Nantucket", "Nantucket County", ("02554",), 41.2835, -70.0995),
    ("Edgartown", "Dukes County", ("02539",), 41.3890, -70.5134),
    ("East Brookfield", "Worcester County", ("01515",), 42.2276, -72.0478),
    ("Taunton", "Bristol County", ("02780",), 41.9001, -71.0898),
    ("Haverhill", "Essex County", ("01830", "01832", "01835"), 42.7762, -71.0773),
    ("Weymouth", "Norfolk County", ("02188", "02189", "02190", "02191"), 42.2180, -70.9410),
)

# Street-name endings in the style of Synthea's generated addresses ("784 Stamm Lock Unit 46").
STREET_SUFFIXES: tuple[str, ...] = (
    "Lock", "Neck", "Underpass", "Throughway", "Light", "Union", "Street", "Avenue", "Road", "Way",
    "Rapid", "Mill", "Gate", "Ferry", "Station", "Vista", "Fork", "Camp", "Trace", "Wall", "Green",
    "Crossing", "Port", "Landing", "Gardens", "Heights", "Knoll", "Meadow", "Ramp", "Spur",
)  # fmt: skip
