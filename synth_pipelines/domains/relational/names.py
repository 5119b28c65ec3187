"""Names of things by what they are: job titles, company names, products, artists and bands, playlists.

Curated word lists (fixed order, so indices are stable) combined once into vocabularies that
``vocab.vocab`` serves and ``values`` samples vectorized. Job titles are common titles as job boards and
the US Bureau of Labor Statistics' occupation lists word them (``Sales Manager``, not ``Administrator,
charities/voluntary organisations``); company names follow Faker's en_US company formats (``<Surname> Inc``,
``<Surname>-<Surname>``, ``<Surname>, <Surname> and <Surname>``) over its surnames.
"""

from __future__ import annotations

import re

from synth_pipelines.core.rng import block_rng

JOB_TITLES = [
    "Account Manager", "Accountant", "Administrative Assistant", "Art Director", "Business Analyst",
    "Chief Executive Officer", "Chief Financial Officer", "Chief Technology Officer", "Civil Engineer",
    "Communications Manager", "Compliance Officer", "Construction Manager", "Content Writer", "Controller",
    "Customer Service Representative", "Customer Success Manager", "Data Analyst", "Data Engineer",
    "Data Scientist", "Database Administrator", "Designer", "DevOps Engineer", "Electrical Engineer",
    "Executive Assistant", "Facilities Manager", "Financial Analyst", "Front Desk Clerk", "General Manager",
    "Graphic Designer", "HR Manager", "HR Specialist", "IT Manager", "IT Support Specialist", "IT Staff",
    "Lawyer", "Legal Counsel", "Logistics Coordinator", "Marketing Coordinator", "Marketing Manager",
    "Mechanical Engineer", "Network Engineer", "Office Manager", "Operations Analyst", "Operations Manager",
    "Payroll Specialist", "Product Designer", "Product Manager", "Program Manager", "Project Manager",
    "Purchasing Manager", "QA Engineer", "Receptionist", "Recruiter", "Research Scientist", "Sales Associate",
    "Sales Manager", "Sales Representative", "Sales Support Agent", "Security Analyst", "Software Architect",
    "Software Engineer", "Solutions Architect", "Store Manager", "Supply Chain Manager", "Systems Administrator",
    "Team Lead", "Technical Writer", "Training Coordinator", "UX Designer", "UX Researcher", "Vice President",
    "Warehouse Supervisor", "Web Developer",
]  # fmt: skip

COMPANY_SUFFIXES = ["Inc", "LLC", "Ltd", "Group", "and Sons", "Holdings", "Partners", "& Co", "Corporation"]

# (product noun, the materials or kinds it comes in): "Leather Backpack", never "Wireless Cotton Chair".
_PRODUCTS = [
    ("Backpack", ["Leather", "Canvas", "Nylon", "Waterproof"]),
    ("Water Bottle", ["Stainless Steel", "Insulated", "Glass", "BPA-Free"]),
    ("Coffee Mug", ["Ceramic", "Enamel", "Travel", "Stoneware"]),
    ("Desk Lamp", ["LED", "Brass", "Adjustable", "Dimmable"]),
    ("Office Chair", ["Ergonomic", "Mesh", "Leather", "Swivel"]),
    ("Headphones", ["Wireless", "Noise-Cancelling", "Over-Ear", "Bluetooth"]),
    ("Keyboard", ["Mechanical", "Wireless", "Compact", "Backlit"]),
    ("Mouse", ["Wireless", "Ergonomic", "Gaming", "Bluetooth"]),
    ("T-Shirt", ["Cotton", "Organic Cotton", "Linen", "Slim-Fit"]),
    ("Jacket", ["Denim", "Leather", "Down", "Rain"]),
    ("Sneakers", ["Running", "Canvas", "Leather", "Trail"]),
    ("Sunglasses", ["Polarized", "Aviator", "Round", "Sport"]),
    ("Wallet", ["Leather", "RFID-Blocking", "Slim", "Bifold"]),
    ("Watch", ["Stainless Steel", "Digital", "Leather Strap", "Smart"]),
    ("Frying Pan", ["Cast Iron", "Non-Stick", "Stainless Steel", "Copper"]),
    ("Cutting Board", ["Bamboo", "Walnut", "Maple", "Plastic"]),
    ("Throw Blanket", ["Wool", "Fleece", "Cotton", "Knitted"]),
    ("Yoga Mat", ["Non-Slip", "Cork", "Extra-Thick", "Travel"]),
    ("Tent", ["2-Person", "4-Person", "Ultralight", "Pop-Up"]),
    ("Bookshelf", ["Oak", "Pine", "Metal", "Floating"]),
    ("Phone Case", ["Silicone", "Leather", "Clear", "Rugged"]),
    ("Charger", ["USB-C", "Wireless", "Fast", "Travel"]),
    ("Notebook", ["Spiral", "Leather", "Dotted", "Recycled Paper"]),
    ("Blender", ["Countertop", "Portable", "High-Speed", "Personal"]),
    ("Pillow", ["Memory Foam", "Down", "Cooling", "Bamboo"]),
    ("Scarf", ["Wool", "Cashmere", "Silk", "Cotton"]),
    ("Desk", ["Standing", "Oak", "Walnut", "Corner"]),
    ("Speaker", ["Bluetooth", "Waterproof", "Portable", "Smart"]),
    ("Candle", ["Soy", "Beeswax", "Scented", "Unscented"]),
    ("Kettle", ["Electric", "Glass", "Stainless Steel", "Gooseneck"]),
]
_PRODUCT_LINES = ["Classic", "Essential", "Premium", "Everyday", "Pro", "Lite", "Signature", "Original"]
_PRODUCT_COLORS = ["Black", "White", "Navy", "Grey", "Olive", "Red", "Sand", "Forest Green"]

_BAND_ADJECTIVES = [
    "Black", "Silver", "Electric", "Velvet", "Midnight", "Golden", "Wild", "Neon", "Crimson", "Lonely", "Broken",
    "Northern", "Blue", "Paper", "Glass", "Atomic", "Hollow", "Young", "Quiet", "Burning",
]  # fmt: skip
_BAND_NOUNS = [
    "Wolves", "Ravens", "Echoes", "Horses", "Lights", "Keys", "Rivers", "Tigers", "Kings", "Satellites", "Foxes",
    "Shadows", "Hearts", "Owls", "Pilots", "Saints", "Sparrows", "Waves", "Giants", "Ghosts",
]  # fmt: skip

PLAYLISTS = [
    "Workout Mix", "Chill Vibes", "Road Trip", "Deep Focus", "Party Hits", "Sunday Morning", "Throwback Classics",
    "Late Night Jazz", "Indie Discoveries", "Rainy Day", "Summer Hits", "Acoustic Covers", "Dinner Party",
    "Morning Coffee", "90s Hits", "80s Classics", "Top 100", "Study Session", "Running", "Sleep Sounds",
    "Feel Good Classics", "Love Songs", "Rock Anthems", "Hip-Hop Essentials", "Jazz Classics",
    "Classical Essentials", "Country Roads", "Movie Soundtracks", "Grunge", "Brazilian Music",
    "Heavy Metal Classics", "Music Videos", "Audiobooks", "Holiday Songs", "Yoga Flow", "Coding Beats",
    "Weekend Vibes", "Unplugged", "Soul Sessions", "Electronic Essentials",
]  # fmt: skip

_PRODUCT_TABLES = re.compile(r"product|item|article|goods|merchandise|catalog|inventory|sku")
_PRODUCT_COLUMNS = re.compile(r"^(name|title|product_?name|item_?name|product|item|label)$")
_ARTIST_TABLES = re.compile(r"artist|band|performer|musician")
_PLAYLIST_TABLES = re.compile(r"playlist")
# A text column named after the person who made something: a composer, a director, an author's name.
_MAKER_COLUMNS = re.compile(r"^(composer|author|artist|director|writer|singer|performer|songwriter|narrator)s?$")


def refine_meaning(table: str, column: str, semantic: str) -> str | None:
    """A meaning the name-based rules miss (a product's name, an artist's, a composer), or None."""
    t, c = table.lower(), column.lower()
    if semantic not in ("title", "words", "text", "full_name"):
        return None
    if _MAKER_COLUMNS.match(c):
        return "full_name"
    if c in ("name", "title", f"{t.rstrip('s')}_name"):
        if _ARTIST_TABLES.search(t):
            return "artist"
        if _PLAYLIST_TABLES.search(t):
            return "playlist"
    if _PRODUCT_TABLES.search(t) and _PRODUCT_COLUMNS.match(c):
        return "product"
    return None


def product_names() -> list[str]:
    """``Leather Backpack``, ``Classic Ceramic Coffee Mug``, ``Insulated Water Bottle - Navy`` (~2,000)."""
    out = []
    for noun, kinds in _PRODUCTS:
        for kind in kinds:
            out.append(f"{kind} {noun}")
            out.extend(f"{line} {kind} {noun}" for line in _PRODUCT_LINES)
            out.extend(f"{kind} {noun} - {color}" for color in _PRODUCT_COLORS)
    return out


def artist_names(first: list[str], last: list[str]) -> list[str]:
    """Bands (``The Velvet Owls``, ``Midnight Rivers``) and solo artists (a person's name), interleaved."""
    bands = [f"The {a} {n}" for a in _BAND_ADJECTIVES for n in _BAND_NOUNS]
    bands += [f"{a} {n}" for a in _BAND_ADJECTIVES for n in _BAND_NOUNS]
    rng = block_rng(0, "relational-vocab", "artist")
    firsts, lasts = rng.integers(0, len(first), 800), rng.integers(0, len(last), 800)
    solo = [f"{first[i]} {last[j]}" for i, j in zip(firsts, lasts, strict=True)]
    out: list[str] = []
    for k in range(max(len(bands), len(solo))):
        if k < len(bands):
            out.append(bands[k * 7 % len(bands)])  # a stride, so neighbours differ in both words
        if k < len(solo):
            out.append(solo[k])
    return out


def company_names(last: list[str]) -> list[str]:
    """Faker's en_US company formats over its surnames (a fixed sample, stable order)."""
    rng = block_rng(0, "relational-vocab", "company_names")
    n = 4000
    a, b, c = (rng.integers(0, len(last), n) for _ in range(3))
    form = rng.integers(0, 10, n)
    suffix = rng.integers(0, len(COMPANY_SUFFIXES), n)
    out = []
    for i in range(n):
        if form[i] < 6:
            out.append(f"{last[a[i]]} {COMPANY_SUFFIXES[suffix[i]]}")
        elif form[i] < 9:
            out.append(f"{last[a[i]]}-{last[b[i]]}")
        else:
            out.append(f"{last[a[i]]}, {last[b[i]]} and {last[c[i]]}")
    return out
