"""A synthetic FDA NDC Directory: products and packages in the FDA's own layout.

Same headers, tab delimiter, CRLF line ends and value styles (YYYYMMDD dates, "0002-1433" product
NDCs, "30 TABLET in 1 BOTTLE (0002-1433-30) " package descriptions) as the FDA's product.txt and
package.txt, but invented labelers and products. The clinic's medications draw their NDC codes
from this catalogue, so medications join to products.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from ingest.generate.randomness import Rng
from ingest.generate.writers import FileKind, Landing

FEED = "fda_ndc"
CLIENT = "fda"

PRODUCT_HEADER: tuple[str, ...] = (
    "PRODUCTID", "PRODUCTNDC", "PRODUCTTYPENAME", "PROPRIETARYNAME", "PROPRIETARYNAMESUFFIX",
    "NONPROPRIETARYNAME", "DOSAGEFORMNAME", "ROUTENAME", "STARTMARKETINGDATE", "ENDMARKETINGDATE",
    "MARKETINGCATEGORYNAME", "APPLICATIONNUMBER", "LABELERNAME", "SUBSTANCENAME",
    "ACTIVE_NUMERATOR_STRENGTH", "ACTIVE_INGRED_UNIT", "PHARM_CLASSES", "DEASCHEDULE", "NDC_EXCLUDE_FLAG",
    "LISTING_RECORD_CERTIFIED_THROUGH",
)  # fmt: skip
PACKAGE_HEADER: tuple[str, ...] = (
    "PRODUCTID", "PRODUCTNDC", "NDCPACKAGECODE", "PACKAGEDESCRIPTION", "STARTMARKETINGDATE",
    "ENDMARKETINGDATE", "NDC_EXCLUDE_FLAG", "SAMPLE_PACKAGE",
)  # fmt: skip

PRODUCT_KIND = FileKind(FEED, "product", PRODUCT_HEADER, extension="txt", delimiter="\t", line_end="\r\n")
PACKAGE_KIND = FileKind(FEED, "package", PACKAGE_HEADER, extension="txt", delimiter="\t", line_end="\r\n")

PRODUCTS = 300


@dataclass(frozen=True)
class Drug:
    generic: str
    substance: str
    strengths: tuple[str, ...]
    unit: str
    form: str
    route: str
    container: str  # what the package description counts: TABLET in 1 BOTTLE, mL in 1 VIAL ...
    pharm_classes: str
    otc: bool = False
    schedule: str = ""


# fmt: off
DRUGS: tuple[Drug, ...] = (
    Drug("Lisinopril", "LISINOPRIL", ("5", "10", "20", "40"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Angiotensin Converting Enzyme Inhibitor [EPC],Angiotensin-converting Enzyme Inhibitors [MoA]"),
    Drug("Amlodipine Besylate", "AMLODIPINE BESYLATE", ("2.5", "5", "10"), "mg/1", "TABLET", "ORAL",
         "BOTTLE", "Calcium Channel Blocker [EPC],Calcium Channel Antagonists [MoA]"),
    Drug("Hydrochlorothiazide", "HYDROCHLOROTHIAZIDE", ("12.5", "25", "50"), "mg/1", "TABLET", "ORAL",
         "BOTTLE", "Thiazide Diuretic [EPC],Thiazides [CS],Increased Diuresis [PE]"),
    Drug("Losartan Potassium", "LOSARTAN POTASSIUM", ("25", "50", "100"), "mg/1", "TABLET, FILM COATED",
         "ORAL", "BOTTLE", "Angiotensin 2 Receptor Blocker [EPC],Angiotensin 2 Receptor Antagonists [MoA]"),
    Drug("Metoprolol Tartrate", "METOPROLOL TARTRATE", ("25", "50", "100"), "mg/1", "TABLET", "ORAL",
         "BOTTLE", "beta-Adrenergic Blocker [EPC],Adrenergic beta-Antagonists [MoA]"),
    Drug("Metformin Hydrochloride", "METFORMIN HYDROCHLORIDE", ("500", "850", "1000"), "mg/1",
         "TABLET, FILM COATED", "ORAL", "BOTTLE", "Biguanide [EPC],Biguanides [CS]"),
    Drug("Glipizide", "GLIPIZIDE", ("5", "10"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Sulfonylurea [EPC],Sulfonylurea Compounds [CS]"),
    Drug("Insulin Glargine", "INSULIN GLARGINE", ("100",), "[iU]/mL", "INJECTION, SOLUTION", "SUBCUTANEOUS",
         "VIAL", "Insulin [CS],Insulin Analog [EPC]"),
    Drug("Atorvastatin Calcium", "ATORVASTATIN CALCIUM TRIHYDRATE", ("10", "20", "40", "80"), "mg/1",
         "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "HMG-CoA Reductase Inhibitor [EPC],Hydroxymethylglutaryl-CoA Reductase Inhibitors [MoA]"),
    Drug("Simvastatin", "SIMVASTATIN", ("10", "20", "40"), "mg/1", "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "HMG-CoA Reductase Inhibitor [EPC],Hydroxymethylglutaryl-CoA Reductase Inhibitors [MoA]"),
    Drug("Albuterol Sulfate", "ALBUTEROL SULFATE", ("90",), "ug/1", "AEROSOL, METERED",
         "RESPIRATORY (INHALATION)", "INHALER",
         "beta2-Adrenergic Agonist [EPC],Adrenergic beta2-Agonists [MoA]"),
    Drug("Fluticasone Propionate", "FLUTICASONE PROPIONATE", ("44", "110"), "ug/1", "AEROSOL, METERED",
         "RESPIRATORY (INHALATION)", "INHALER",
         "Corticosteroid [EPC],Corticosteroid Hormone Receptor Agonists [MoA]"),
    Drug("Montelukast Sodium", "MONTELUKAST SODIUM", ("4", "5", "10"), "mg/1", "TABLET, FILM COATED",
         "ORAL", "BOTTLE", "Leukotriene Receptor Antagonist [EPC],Leukotriene Receptor Antagonists [MoA]"),
    Drug("Levothyroxine Sodium", "LEVOTHYROXINE SODIUM", ("25", "50", "75", "100"), "ug/1", "TABLET",
         "ORAL", "BOTTLE", "l-Thyroxine [EPC],Thyroxine [CS]"),
    Drug("Omeprazole", "OMEPRAZOLE", ("20", "40"), "mg/1", "CAPSULE, DELAYED RELEASE", "ORAL", "BOTTLE",
         "Proton Pump Inhibitor [EPC],Proton Pump Inhibitors [MoA]"),
    Drug("Pantoprazole Sodium", "PANTOPRAZOLE SODIUM", ("20", "40"), "mg/1", "TABLET, DELAYED RELEASE",
         "ORAL", "BOTTLE", "Proton Pump Inhibitor [EPC],Proton Pump Inhibitors [MoA]"),
    Drug("Sertraline Hydrochloride", "SERTRALINE HYDROCHLORIDE", ("25", "50", "100"), "mg/1",
         "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "Serotonin Reuptake Inhibitor [EPC],Serotonin Uptake Inhibitors [MoA]"),
    Drug("Escitalopram Oxalate", "ESCITALOPRAM OXALATE", ("5", "10", "20"), "mg/1", "TABLET, FILM COATED",
         "ORAL", "BOTTLE", "Serotonin Reuptake Inhibitor [EPC],Serotonin Uptake Inhibitors [MoA]"),
    Drug("Bupropion Hydrochloride", "BUPROPION HYDROCHLORIDE", ("150", "300"), "mg/1",
         "TABLET, EXTENDED RELEASE", "ORAL", "BOTTLE", "Aminoketone [EPC]"),
    Drug("Alprazolam", "ALPRAZOLAM", ("0.25", "0.5", "1"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Benzodiazepine [EPC],Benzodiazepines [CS]", schedule="CIV"),
    Drug("Oxycodone and Acetaminophen", "OXYCODONE HYDROCHLORIDE; ACETAMINOPHEN", ("5; 325", "10; 325"),
         "mg/1; mg/1", "TABLET", "ORAL", "BOTTLE", "Opioid Agonist [EPC],Full Opioid Agonists [MoA]",
         schedule="CII"),
    Drug("Tramadol Hydrochloride", "TRAMADOL HYDROCHLORIDE", ("50",), "mg/1", "TABLET, COATED", "ORAL",
         "BOTTLE", "Opioid Agonist [EPC],Full Opioid Agonists [MoA]", schedule="CIV"),
    Drug("Gabapentin", "GABAPENTIN", ("100", "300", "400"), "mg/1", "CAPSULE", "ORAL", "BOTTLE",
         "Anti-epileptic Agent [EPC]", schedule="CV"),
    Drug("Amoxicillin", "AMOXICILLIN", ("250", "500"), "mg/1", "CAPSULE", "ORAL", "BOTTLE",
         "Penicillin-class Antibacterial [EPC],Penicillins [CS]"),
    Drug("Azithromycin", "AZITHROMYCIN MONOHYDRATE", ("250", "500"), "mg/1", "TABLET, FILM COATED", "ORAL",
         "BOTTLE", "Macrolide Antimicrobial [EPC],Macrolides [CS]"),
    Drug("Cephalexin", "CEPHALEXIN", ("250", "500"), "mg/1", "CAPSULE", "ORAL", "BOTTLE",
         "Cephalosporin Antibacterial [EPC],Cephalosporins [CS]"),
    Drug("Prednisone", "PREDNISONE", ("5", "10", "20"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Corticosteroid [EPC],Corticosteroid Hormone Receptor Agonists [MoA]"),
    Drug("Warfarin Sodium", "WARFARIN SODIUM", ("1", "2", "5"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Vitamin K Antagonist [EPC],Vitamin K Inhibitors [MoA]"),
    Drug("Apixaban", "APIXABAN", ("2.5", "5"), "mg/1", "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "Factor Xa Inhibitor [EPC],Factor Xa Inhibitors [MoA]"),
    Drug("Clopidogrel", "CLOPIDOGREL BISULFATE", ("75",), "mg/1", "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "P2Y12 Platelet Inhibitor [EPC],P2Y12 Receptor Antagonists [MoA]"),
    Drug("Furosemide", "FUROSEMIDE", ("20", "40"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Loop Diuretic [EPC],Increased Diuresis at Loop of Henle [PE]"),
    Drug("Allopurinol", "ALLOPURINOL", ("100", "300"), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Xanthine Oxidase Inhibitor [EPC],Xanthine Oxidase Inhibitors [MoA]"),
    Drug("Tamsulosin Hydrochloride", "TAMSULOSIN HYDROCHLORIDE", ("0.4",), "mg/1", "CAPSULE", "ORAL",
         "BOTTLE", "alpha-Adrenergic Blocker [EPC],Adrenergic alpha-Antagonists [MoA]"),
    Drug("Cyclobenzaprine Hydrochloride", "CYCLOBENZAPRINE HYDROCHLORIDE", ("5", "10"), "mg/1",
         "TABLET, FILM COATED", "ORAL", "BOTTLE", "Muscle Relaxant [EPC]"),
    Drug("Sumatriptan", "SUMATRIPTAN SUCCINATE", ("50", "100"), "mg/1", "TABLET, FILM COATED", "ORAL",
         "BLISTER PACK", "Serotonin-1b and Serotonin-1d Receptor Agonist [EPC]"),
    Drug("Ergocalciferol", "ERGOCALCIFEROL", ("1.25",), "mg/1", "CAPSULE, LIQUID FILLED", "ORAL", "BOTTLE",
         "Provitamin D2 Compound [EPC],Vitamin D2 [CS]"),
    Drug("Ferrous Sulfate", "FERROUS SULFATE", ("325",), "mg/1", "TABLET", "ORAL", "BOTTLE",
         "Iron [CS],Parenteral Iron Replacement [EPC]", otc=True),
    Drug("Ibuprofen", "IBUPROFEN", ("200", "400", "800"), "mg/1", "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "Nonsteroidal Anti-inflammatory Drug [EPC],Cyclooxygenase Inhibitors [MoA]", otc=True),
    Drug("Acetaminophen", "ACETAMINOPHEN", ("325", "500"), "mg/1", "TABLET", "ORAL", "BOTTLE", "",
         otc=True),
    Drug("Loratadine", "LORATADINE", ("10",), "mg/1", "TABLET", "ORAL", "BLISTER PACK",
         "Histamine-1 Receptor Antagonist [EPC],Histamine H1 Receptor Antagonists [MoA]", otc=True),
    Drug("Cetirizine Hydrochloride", "CETIRIZINE HYDROCHLORIDE", ("10",), "mg/1", "TABLET", "ORAL",
         "BOTTLE", "Histamine-1 Receptor Antagonist [EPC],Histamine H1 Receptor Antagonists [MoA]",
         otc=True),
    Drug("Hydrocortisone", "HYDROCORTISONE", ("1",), "g/100g", "CREAM", "TOPICAL", "TUBE",
         "Corticosteroid [EPC],Corticosteroid Hormone Receptor Agonists [MoA]", otc=True),
    Drug("Famotidine", "FAMOTIDINE", ("10", "20"), "mg/1", "TABLET, FILM COATED", "ORAL", "BOTTLE",
         "Histamine-2 Receptor Antagonist [EPC],Histamine H2 Receptor Antagonists [MoA]", otc=True),
    Drug("Nicotine Polacrilex", "NICOTINE", ("2", "4"), "mg/1", "GUM, CHEWING", "ORAL", "BLISTER PACK",
         "Cholinergic Nicotinic Agonist [EPC],Nicotinic Agonists [MoA]", otc=True),
)

LABELERS: tuple[tuple[str, str], ...] = (
    ("0113", "Northwind Pharmaceuticals, Inc."), ("0287", "Contoso Health LLC"),
    ("0406", "Fabrikam Generics"), ("0591", "Tailspin Laboratories"), ("0781", "Woodgrove Pharma Corp."),
    ("0904", "Litware Medical, Inc."), ("11835", "Adventure Works Rx"),
    ("16714", "Proseware Pharmaceuticals"), ("31722", "Wide World Drug Co."),
    ("33342", "Blue Yonder Pharma"), ("42291", "Lucerne Therapeutics"), ("43547", "Alpine Ski Remedies"),
    ("45802", "Coho Winery Health"), ("49483", "Margie's Generics"), ("50090", "A-B Repack Services"),
    ("51655", "Trey Research Pharma"), ("55111", "Fourth Coffee Laboratories"),
    ("57237", "Humongous Insurance Rx"), ("60505", "Graphic Design Pharma Ltd."),
    ("63629", "Greenleaf Prepack Partners"), ("65862", "Datum Biologics"),
    ("68462", "Laboratoires Éclair S.A."), ("69097", "Südwind Arzneimittel GmbH"),
    ("70518", "Remedy Repack Co."), ("72789", "City Power & Light Pharmacy"),
)

DOSE_TEXTS: tuple[str, ...] = (
    "1 tablet by mouth once daily", "1 tablet by mouth twice daily", "2 tablets by mouth at bedtime",
    "1 capsule by mouth three times daily for 10 days", "take 1/2 tablet daily", "10 units subcut at bedtime",
    "2 puffs every 4-6 hours as needed", "apply thin layer twice daily", "1 tab PO q6h PRN pain",
    "as directed", "1 tablet daily with food", "take with a full glass of water",
)
# fmt: on

_BRAND_HEADS = ("Zy", "Vel", "Nor", "Cal", "Tri", "Pro", "Lum", "Avi", "Oro", "Cen", "Dax", "Mer", "Sol")
_BRAND_TAILS = ("vex", "dora", "pril", "lan", "tril", "zia", "mira", "xane", "prex", "vance", "tera", "lix")
_SUFFIXES = ("Extra Strength", "ER", "XR", "Maximum Strength", "ODT")


@dataclass(frozen=True)
class Product:
    ndc: str
    drug: Drug
    row: list[str]
    packages: tuple[list[str], ...]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _yyyymmdd(rng: random.Random, first_year: int, last_year: int) -> str:
    start, end = date(first_year, 1, 1).toordinal(), date(last_year, 12, 31).toordinal()
    return date.fromordinal(rng.randint(start, end)).strftime("%Y%m%d")


class Catalogue:
    """Products by NDC and by generic name, so a clinic prescription can pick a fitting product."""

    def __init__(self, seed: int, start: date) -> None:
        rng = Rng(f"{seed}:fda_ndc")
        self.products: list[Product] = []
        self.by_generic: dict[str, list[str]] = {}
        used: set[str] = set()
        certified = f"{start.year}1231"
        while len(self.products) < PRODUCTS:
            labeler_code, labeler = rng.choice(LABELERS)
            digits = 4 if len(labeler_code) == 4 else rng.choice((3, 4))
            ndc = f"{labeler_code}-{rng.randrange(10**digits):0{digits}d}"
            if ndc in used:
                continue
            used.add(ndc)
            drug = rng.choice(DRUGS)
            self.products.append(self._product(rng, ndc, drug, labeler, certified))
        # The FDA file is sorted by product id (NDC first); so is this one.
        self.products.sort(key=lambda product: product.row[0])
        for product in self.products:
            self.by_generic.setdefault(product.drug.generic, []).append(product.ndc)
        self.ndcs: tuple[str, ...] = tuple(p.ndc for p in self.products)

    @staticmethod
    def _product(rng: random.Random, ndc: str, drug: Drug, labeler: str, certified: str) -> Product:
        product_id = f"{ndc}_{_uuid(rng)}"
        branded = not drug.otc and rng.random() < 0.25
        if drug.otc:
            category = rng.choice(("OTC MONOGRAPH FINAL", "OTC MONOGRAPH NOT FINAL", "ANDA"))
        elif branded:
            category = "NDA"
        else:
            category = rng.choice(("ANDA", "ANDA", "ANDA", "NDA AUTHORIZED GENERIC"))
        if category.startswith("OTC"):
            application = f"part{rng.choice(('333', '341', '343', '358'))}"
        elif category == "ANDA":
            application = f"ANDA{rng.randint(40000, 215000):06d}"
        else:
            application = f"NDA{rng.randint(10000, 215000):06d}"
        name = rng.choice(_BRAND_HEADS) + rng.choice(_BRAND_TAILS) if branded else drug.generic
        strength = rng.choice(drug.strengths)
        started = _yyyymmdd(rng, 1985, 2019)
        ended = _yyyymmdd(rng, 2020, 2025) if rng.random() < 0.04 else ""
        row = [
            product_id,
            ndc,
            "HUMAN OTC DRUG" if drug.otc else "HUMAN PRESCRIPTION DRUG",
            name.upper() if branded and rng.random() < 0.5 else name,
            rng.choice(_SUFFIXES) if rng.random() < 0.08 else "",
            drug.generic,
            drug.form,
            drug.route,
            started,
            ended,
            category,
            application,
            labeler,
            drug.substance,
            strength,
            drug.unit,
            drug.pharm_classes,
            drug.schedule,
            "N",
            certified if not ended else "",
        ]
        packages = []
        labeler_part, product_part = ndc.split("-")
        # NDCs are ten digits in 4-4-2, 5-3-2 or 5-4-1 form: the package part takes what is left.
        package_digits = 1 if len(labeler_part) + len(product_part) == 9 else 2
        seen: set[str] = set()
        for _ in range(rng.choice((1, 1, 2, 3))):
            code = f"{ndc}-{rng.randrange(10**package_digits):0{package_digits}d}"
            if code in seen:
                continue
            seen.add(code)
            packages.append([product_id, ndc, code, _package_description(rng, drug, code), started, ended, "N", "N"])
        return Product(ndc, drug, row, tuple(packages))

    def pick(self, rng: random.Random, generic: str | None = None) -> str:
        choices = self.by_generic.get(generic) if generic else None
        return rng.choice(choices) if choices else rng.choice(self.ndcs)


def _package_description(rng: random.Random, drug: Drug, code: str) -> str:
    if drug.container == "VIAL":
        return f"1 VIAL in 1 CARTON ({code})  > 10 mL in 1 VIAL"
    if drug.container == "INHALER":
        return f"1 INHALER in 1 CARTON ({code})  > 200 AEROSOL, METERED in 1 INHALER"
    if drug.container == "TUBE":
        return f"1 TUBE in 1 CARTON ({code})  > {rng.choice((28, 30, 57))} g in 1 TUBE"
    unit = drug.form.split(",")[0] if drug.form.startswith(("TABLET", "CAPSULE", "GUM")) else drug.form
    if drug.container == "BLISTER PACK":
        return f"{rng.choice((1, 2, 3))} BLISTER PACK in 1 CARTON ({code})  > 10 {unit} in 1 BLISTER PACK"
    # The FDA file ends single-level descriptions with a space; copied here on purpose.
    return f"{rng.choice((30, 60, 90, 100, 500, 1000))} {drug.form} in 1 BOTTLE ({code}) "


def write(landing: Landing, catalogue: Catalogue, first_day: date) -> None:
    """Reference data arrives once, on the first day."""
    products = landing.csv_file(PRODUCT_KIND, CLIENT, first_day)
    packages = landing.csv_file(PACKAGE_KIND, CLIENT, first_day)
    for product in catalogue.products:
        products.write(product.row)
        for package in product.packages:
            packages.write(package)
    products.flush()
    packages.flush()
