"""Product listings for the demo catalogue: titles, descriptions, brands and prices in
English and Vietnamese, drawn so that colour, pattern, gender and material are stated
only part of the time (the photo has to carry the rest), and the day's text edits.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_CATEGORY_WEIGHTS = {
    "t-shirt": 14,
    "shirt": 9,
    "tank-top": 5,
    "hoodie": 7,
    "sweater": 6,
    "jacket": 7,
    "dress": 10,
    "skirt": 6,
    "pants": 10,
    "shorts": 6,
    "shoes": 9,
    "hat": 5,
    "bag": 6,
}
_COLOR_WEIGHTS = {
    "black": 14,
    "white": 12,
    "gray": 9,
    "red": 6,
    "orange": 3,
    "yellow": 4,
    "green": 6,
    "blue": 9,
    "navy": 8,
    "purple": 3,
    "pink": 6,
    "brown": 5,
    "beige": 6,
}
_PATTERN_WEIGHTS = {
    "solid": 50,
    "striped": 13,
    "checked": 9,
    "dotted": 8,
    "floral": 10,
    "graphic": 10,
}
_GENDERS = {
    "dress": {"women": 0.9, "kids": 0.1},
    "skirt": {"women": 0.9, "kids": 0.1},
    "bag": {"women": 0.5, "unisex": 0.4, "men": 0.1},
    "hat": {"unisex": 0.6, "men": 0.2, "women": 0.1, "kids": 0.1},
}
_DEFAULT_GENDERS = {"men": 0.4, "women": 0.38, "unisex": 0.12, "kids": 0.1}
_MATERIALS = {
    "t-shirt": {"cotton": 6, "polyester": 2, "linen": 1, "spandex": 1},
    "shirt": {"cotton": 5, "linen": 3, "silk": 1, "polyester": 1},
    "tank-top": {"cotton": 5, "polyester": 3, "spandex": 2},
    "hoodie": {"cotton": 4, "fleece": 5, "polyester": 1},
    "sweater": {"wool": 6, "cotton": 3, "polyester": 1},
    "jacket": {"denim": 3, "leather": 2, "nylon": 3, "polyester": 2, "wool": 1},
    "dress": {"cotton": 3, "silk": 2, "linen": 2, "polyester": 3},
    "skirt": {"denim": 3, "cotton": 3, "polyester": 2, "linen": 1},
    "pants": {"denim": 4, "cotton": 3, "linen": 1, "wool": 1, "spandex": 1},
    "shorts": {"cotton": 4, "denim": 3, "nylon": 2, "linen": 1},
    "shoes": {"leather": 5, "nylon": 3, "polyester": 2},
    "hat": {"cotton": 5, "wool": 2, "polyester": 2},
    "bag": {"leather": 5, "nylon": 2, "polyester": 2, "cotton": 2},
}
_PRICE_USD = {
    "t-shirt": (12, 35),
    "shirt": (25, 80),
    "tank-top": (10, 30),
    "hoodie": (35, 90),
    "sweater": (35, 120),
    "jacket": (60, 250),
    "dress": (30, 160),
    "skirt": (20, 80),
    "pants": (30, 120),
    "shorts": (15, 50),
    "shoes": (45, 180),
    "hat": (12, 40),
    "bag": (25, 300),
}

# English words. Nouns never name a colour, pattern or material, except where noted.
_EN_NOUNS = {
    "t-shirt": ["T-Shirt", "Crew Neck Tee", "V-Neck T-Shirt", "Everyday Tee"],
    "shirt": ["Shirt", "Button-Down Shirt", "Oxford Shirt", "Long Sleeve Shirt"],
    "tank-top": ["Tank Top", "Sleeveless Top", "Racerback Tank"],
    "hoodie": ["Hoodie", "Pullover Hoodie", "Hooded Sweatshirt"],
    "sweater": ["Sweater", "Crewneck Sweater", "Knit Jumper"],
    "jacket": ["Jacket", "Zip Jacket", "Bomber Jacket", "Windbreaker"],
    "dress": ["Dress", "Midi Dress", "A-Line Dress", "Sundress", "Wrap Dress"],
    "skirt": ["Skirt", "A-Line Skirt", "Pleated Skirt", "Mini Skirt"],
    "pants": ["Pants", "Trousers", "Chinos", "Straight Leg Pants", "Jeans"],
    "shorts": ["Shorts", "Chino Shorts", "Running Shorts", "Bermuda Shorts"],
    "shoes": ["Sneakers", "Low-Top Sneakers", "Trainers", "Running Shoes"],
    "hat": ["Cap", "Baseball Cap", "Dad Hat"],
    "bag": ["Tote Bag", "Handbag", "Shopper Bag", "Shoulder Bag"],
}
_EN_IMPLIED_MATERIAL = {"Jeans": "denim"}
_EN_PLURAL = {
    "t-shirt": "T-Shirts",
    "shirt": "Shirts",
    "tank-top": "Tank Tops",
    "hoodie": "Hoodies",
    "sweater": "Sweaters",
    "jacket": "Jackets & Coats",
    "dress": "Dresses",
    "skirt": "Skirts",
    "pants": "Pants",
    "shorts": "Shorts",
    "shoes": "Sneakers",
    "hat": "Hats",
    "bag": "Bags",
}
_EN_GROUP = {
    "t-shirt": "Tops & Tees",
    "shirt": "Tops",
    "tank-top": "Tops & Tees",
    "hoodie": "Sweatshirts",
    "sweater": "Knitwear",
    "jacket": "Outerwear",
    "dress": "Apparel",
    "skirt": "Bottoms",
    "pants": "Bottoms",
    "shorts": "Bottoms",
    "shoes": "Footwear",
    "hat": "Accessories",
    "bag": "Accessories",
}
_EN_GENDER = {"men": "Men's", "women": "Women's", "kids": "Kids'", "unisex": "Unisex"}
_EN_GENDER_LABEL = {"men": "Men", "women": "Women", "kids": "Kids"}
_EN_COLORS = {
    "black": ["Black", "Jet Black"],
    "white": ["White", "Optic White"],
    "gray": ["Grey", "Gray", "Heather Grey"],
    "red": ["Red", "Crimson"],
    "orange": ["Orange", "Burnt Orange"],
    "yellow": ["Yellow", "Mustard Yellow"],
    "green": ["Green", "Forest Green"],
    "blue": ["Blue", "Royal Blue"],
    "navy": ["Navy", "Navy Blue"],
    "purple": ["Purple", "Plum Purple"],
    "pink": ["Pink", "Blush Pink"],
    "brown": ["Brown", "Chocolate Brown"],
    "beige": ["Beige", "Sand Beige"],
}
_EN_PATTERNS = {
    "solid": [""],
    "striped": ["Striped", "Breton Stripe"],
    "checked": ["Plaid", "Gingham"],
    "dotted": ["Polka Dot"],
    "floral": ["Floral", "Flower Print"],
    "graphic": ["Graphic", "Logo Print"],
}
_EN_MATERIALS = {
    "cotton": ("Cotton", "100% cotton"),
    "wool": ("Wool", "soft merino wool"),
    "polyester": ("Polyester", "recycled polyester"),
    "nylon": ("Nylon", "durable ripstop nylon"),
    "leather": ("Leather", "genuine leather"),
    "denim": ("Denim", "rigid denim"),
    "silk": ("Silk", "pure mulberry silk"),
    "linen": ("Linen", "washed linen"),
    "fleece": ("Fleece", "brushed fleece"),
    "spandex": ("Stretch", "a spandex stretch blend"),
}
_EN_ADJ = [
    "Classic",
    "Essential",
    "Relaxed Fit",
    "Slim Fit",
    "Everyday",
    "Vintage",
    "Premium",
    "Lightweight",
    "Oversized",
    "Soft",
]
_EN_BRANDS = [
    "Northwind Apparel",
    "Harbor Row",
    "Kite & Co",
    "Fieldnote",
    "Urban Tide",
    "Lumen Basics",
    "Cedar Lane",
    "Bluecrest",
    "Paper Moon",
    "Oak & Ivy",
]
_EN_CLOSERS = [
    "Machine washable at 30 degrees.",
    "True to size; order your usual size.",
    "Designed for everyday comfort.",
    "Easy to pair with your favourite basics.",
    "Free returns within 30 days.",
    "Model is 178 cm and wears size M.",
]

# Vietnamese words (with diacritics).
_VI_NOUNS = {
    "t-shirt": ["Áo thun", "Áo phông"],
    "shirt": ["Áo sơ mi"],
    "tank-top": ["Áo ba lỗ", "Áo tank top"],
    "hoodie": ["Áo hoodie"],
    "sweater": ["Áo sweater", "Áo len"],
    "jacket": ["Áo khoác", "Áo khoác gió"],
    "dress": ["Đầm", "Váy liền"],
    "skirt": ["Chân váy"],
    "pants": ["Quần dài", "Quần tây", "Quần jean"],
    "shorts": ["Quần short", "Quần đùi"],
    "shoes": ["Giày thể thao", "Giày sneaker"],
    "hat": ["Mũ lưỡi trai", "Nón kết"],
    "bag": ["Túi xách", "Túi tote"],
}
_VI_IMPLIED_MATERIAL = {"Áo len": "wool", "Quần jean": "denim"}
_VI_STYLES = {
    "t-shirt": ["cổ tròn", "cổ tim", "form rộng"],
    "shirt": ["tay dài", "công sở"],
    "tank-top": ["thể thao", "dáng ôm"],
    "hoodie": ["có mũ", "form rộng"],
    "sweater": ["cổ tròn", "dệt kim"],
    "jacket": ["chống nắng", "dáng lửng"],
    "dress": ["dáng xòe", "dự tiệc", "dáng suông"],
    "skirt": ["chữ A", "xếp ly"],
    "pants": ["ống suông", "ống đứng", "công sở"],
    "shorts": ["thể thao", "lưng thun"],
    "shoes": ["đế êm", "cổ thấp"],
    "hat": ["chống nắng", "thời trang"],
    "bag": ["đeo vai", "công sở", "cỡ lớn"],
}
_VI_LABELS = {
    "t-shirt": "Áo thun",
    "shirt": "Áo sơ mi",
    "tank-top": "Áo ba lỗ",
    "hoodie": "Áo hoodie",
    "sweater": "Áo len & sweater",
    "jacket": "Áo khoác",
    "dress": "Váy đầm",
    "skirt": "Chân váy",
    "pants": "Quần dài",
    "shorts": "Quần short",
    "shoes": "Giày dép",
    "hat": "Mũ nón",
    "bag": "Túi xách",
}
_VI_GENDER = {"men": "nam", "women": "nữ", "kids": "trẻ em", "unisex": "unisex"}
_VI_GENDER_LABEL = {"men": "Thời trang nam", "women": "Thời trang nữ", "kids": "Đồ trẻ em"}
_VI_COLORS = {
    "black": ["đen"],
    "white": ["trắng"],
    "gray": ["xám", "ghi"],
    "red": ["đỏ", "đỏ đô"],
    "orange": ["cam"],
    "yellow": ["vàng"],
    "green": ["xanh lá"],
    "blue": ["xanh dương"],
    "navy": ["xanh navy", "xanh than"],
    "purple": ["tím"],
    "pink": ["hồng"],
    "brown": ["nâu"],
    "beige": ["be", "kem be"],
}
_VI_PATTERNS = {
    "solid": ["trơn"],
    "striped": ["kẻ sọc"],
    "checked": ["kẻ caro"],
    "dotted": ["chấm bi"],
    "floral": ["họa tiết hoa", "hoa nhí"],
    "graphic": ["in hình"],
}
_VI_MATERIALS = {
    "cotton": "cotton",
    "wool": "len",
    "polyester": "polyester",
    "nylon": "nylon",
    "leather": "da",
    "denim": "denim",
    "silk": "lụa",
    "linen": "linen",
    "fleece": "nỉ",
    "spandex": "thun co giãn",
}
_VI_BRANDS = [
    "Sao Mai",
    "Mộc Lan",
    "Hoa Sen Studio",
    "Lam Phong",
    "An Nhiên",
    "Gió Biển",
    "Trúc Xanh",
]
_VI_CLOSERS = [
    "Phù hợp đi làm, đi chơi.",
    "Giặt máy ở nhiệt độ thường.",
    "Dễ phối với nhiều trang phục.",
    "Đổi trả miễn phí trong 7 ngày.",
    "Thiết kế trẻ trung, năng động.",
]
_EDITS = {
    "en": {
        "title": ["New Season", "Best Seller", "Online Exclusive"],
        "desc": [
            "Now available in more sizes.",
            "Updated size chart.",
            "Ships within 24 hours.",
            "Care: wash inside out.",
        ],
    },
    "vi": {
        "title": ["Hàng mới về", "Bán chạy", "Độc quyền online"],
        "desc": [
            "Đã cập nhật bảng size.",
            "Giao hàng trong 24 giờ.",
            "Nay có thêm nhiều size.",
            "Lộn trái khi giặt.",
        ],
    },
}


def _weighted(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


@dataclass
class Listing:
    language: str
    title: str
    description: str
    brand: str | None
    label: str | None
    price: float
    currency: str
    stock: int
    truth: dict


def _en_listing(rng, cat, color, pattern, gender, material, where_color, say_gender, say_material):
    noun = rng.choice(_EN_NOUNS[cat])
    if noun in _EN_IMPLIED_MATERIAL:
        material, say_material = _EN_IMPLIED_MATERIAL[noun], True
    color_word = rng.choice(_EN_COLORS[color])
    pattern_word = rng.choice(_EN_PATTERNS[pattern]) if rng.random() < 0.6 else ""
    mat_word, mat_phrase = _EN_MATERIALS[material]
    material_in_title = say_material and rng.random() < 0.5 and noun not in _EN_IMPLIED_MATERIAL
    title = _join(
        _EN_GENDER[gender] if say_gender == "title" else "",
        rng.choice(_EN_ADJ) if rng.random() < 0.6 else "",
        color_word if where_color == "title" else "",
        pattern_word,
        mat_word if material_in_title else "",
        noun,
    )
    who = {"men": "for men", "women": "for women", "kids": "for kids", "unisex": "for everyone"}[
        gender
    ]
    adj = rng.choice(_EN_ADJ).lower()
    plural = noun.endswith("s") and not noun.endswith("ss")
    article = "" if plural else ("An " if adj[0] in "aeiou" else "A ")
    sentences = [
        f"{article}{adj} {noun.lower()}".capitalize()
        + (f" {who}" if say_gender == "desc" else "")
        + " for every day."
    ]
    if say_material and not material_in_title:
        sentences.append(f"Made from {mat_phrase}.")
    if where_color == "desc":
        sentences.append(rng.choice([f"Colour: {color_word}.", f"Shown in {color_word.lower()}."]))
    sentences += rng.sample(_EN_CLOSERS, 2)
    label = None
    if rng.random() > 0.07:
        if say_gender == "label":
            label = f"{_EN_GENDER_LABEL[gender]} > {_EN_PLURAL[cat]}"
        else:
            label = rng.choice(
                [_EN_PLURAL[cat], _EN_GROUP[cat], f"Apparel/{_EN_GROUP[cat]}/{_EN_PLURAL[cat]}"]
            )
    brand = rng.choice(_EN_BRANDS) if rng.random() > 0.05 else None
    return title, " ".join(sentences), label, brand, material, say_material


def _vi_listing(rng, cat, color, pattern, gender, material, where_color, say_gender, say_material):
    noun = rng.choice(_VI_NOUNS[cat])
    if noun in _VI_IMPLIED_MATERIAL:
        material, say_material = _VI_IMPLIED_MATERIAL[noun], True
    color_word = rng.choice(_VI_COLORS[color])
    pattern_word = rng.choice(_VI_PATTERNS[pattern]) if rng.random() < 0.6 else ""
    mat_word = _VI_MATERIALS[material]
    material_in_title = say_material and rng.random() < 0.5 and noun not in _VI_IMPLIED_MATERIAL
    title = _join(
        noun,
        _VI_GENDER[gender] if say_gender == "title" else "",
        mat_word if material_in_title else "",
        pattern_word,
        rng.choice(_VI_STYLES[cat]) if rng.random() < 0.7 else "",
        f"màu {color_word}" if where_color == "title" else "",
    )
    sentences = [f"{noun} {rng.choice(_VI_STYLES[cat])} thiết kế đơn giản, thoải mái."]
    if say_gender == "desc":
        who = {"men": "nam giới", "women": "phái nữ", "kids": "các bé", "unisex": "cả nam và nữ"}[
            gender
        ]
        sentences.append(f"Sản phẩm dành cho {who}.")
    if say_material and not material_in_title:
        sentences.append(f"Chất liệu {mat_word} mềm mại, thoáng mát.")
    if where_color == "desc":
        sentences.append(f"Màu {color_word} dễ phối đồ.")
    sentences += rng.sample(_VI_CLOSERS, 2)
    label = None
    if rng.random() > 0.07:
        if say_gender == "label":
            label = f"{_VI_GENDER_LABEL[gender]} > {_VI_LABELS[cat]}"
        else:
            label = _VI_LABELS[cat]
    brand = rng.choice(_VI_BRANDS) if rng.random() > 0.05 else None
    return title, " ".join(sentences), label, brand, material, say_material


def make_listing(rng: random.Random) -> Listing:
    """One product listing with its ground truth."""
    cat = _weighted(rng, _CATEGORY_WEIGHTS)
    color = _weighted(rng, _COLOR_WEIGHTS)
    pattern = _weighted(rng, _PATTERN_WEIGHTS)
    gender = _weighted(rng, _GENDERS.get(cat, _DEFAULT_GENDERS))
    material = _weighted(rng, _MATERIALS[cat])
    language = "vi" if rng.random() < 0.3 else "en"
    where_color = rng.choices(["title", "desc", None], weights=(0.35, 0.2, 0.45))[0]
    say_gender = rng.choices(["title", "desc", "label", None], weights=(0.45, 0.15, 0.2, 0.2))[0]
    if say_gender == "label" and gender == "unisex":
        say_gender = "title"
    say_material = rng.random() < 0.5
    make = _vi_listing if language == "vi" else _en_listing
    title, desc, label, brand, material, say_material = make(
        rng, cat, color, pattern, gender, material, where_color, say_gender, say_material
    )
    if say_gender == "label" and label is None:  # the label that carried gender was dropped
        say_gender = None
    lo, hi = _PRICE_USD[cat]
    usd = rng.uniform(lo, hi)
    if language == "vi":
        price, currency = float(int(usd * 25) * 1000 + 9000), "VND"
    else:
        price, currency = float(int(usd)) + rng.choice([0.99, 0.5, 0.0]), "USD"
    stock = 0 if rng.random() < 0.08 else rng.randint(1, 500)
    truth = {
        "category": cat,
        "color": color,
        "pattern": pattern,
        "gender": gender if say_gender else None,
        "material": material if say_material else None,
    }
    return Listing(language, title, desc, brand, label, price, currency, stock, truth)


def new_price(rng: random.Random, price: float) -> float:
    """A price change: a discount or an increase of 5-25 %, rounded like the original."""
    factor = rng.choice([0.75, 0.8, 0.85, 0.9, 0.95, 1.05, 1.1, 1.15])
    if price >= 1000:  # VND
        return float(max(1000, round(price * factor / 1000) * 1000))
    return max(0.99, round(price * factor, 2))


def edit_text(rng: random.Random, language: str, title: str, desc: str) -> tuple[str, str]:
    """A merchandiser's edit that changes no attribute: a title tag or a new sentence."""
    edits = _EDITS.get(language, _EDITS["en"])
    if rng.random() < 0.5:
        tag = rng.choice(edits["title"])
        base = title.split(" | ")[0]
        new_title = f"{base} | {tag}"
        if new_title == title:
            new_title = base
        return new_title, desc
    extra = rng.choice(edits["desc"])
    if desc.endswith(extra):
        return title, desc[: -len(extra)].rstrip()
    return title, f"{desc} {extra}".strip()


def _mentions(words: dict[str, list[str]], text_: str, skip: tuple[str, ...] = ()) -> bool:
    low = text_.lower()
    return any(
        re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", low)
        for k, ws in words.items()
        if k not in skip
        for w in ws
        if w
    )


def mentions_color(text_: str, language: str) -> bool:
    return _mentions(_VI_COLORS if language == "vi" else _EN_COLORS, text_)


def mentions_pattern(text_: str, language: str) -> bool:
    return _mentions(_VI_PATTERNS if language == "vi" else _EN_PATTERNS, text_, skip=("solid",))
