"""Addresses: one key per dwelling, the flat kept, pickup points flagged."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.config import NormalizeConfig
from linkgraph.normalize.address import normalize_addresses
from linkgraph.normalize.junk import junk_values

PICKUP = NormalizeConfig().pickup_keywords


def _key(line1, line2=None, postal=None, city=None, country=None, *, pickup=PICKUP):
    rows = pd.DataFrame({"line1": [line1], "line2": [line2], "postal_code": [postal],
                         "city": [city], "country": [country]}, dtype=object)
    result = normalize_addresses(rows, pickup_keywords=pickup)
    value, suppressed = result["value"].iloc[0], result["suppressed"].iloc[0]
    return (None if pd.isna(value) else value), (None if pd.isna(suppressed) else suppressed)


# groups of spellings of one dwelling: (line1, line2, postal, city, country)
SAME_DWELLING = [
    ("12 main street|4|12345|us", [
        ("12 Main St., apt. 4", None, "12345", "Springfield", "US"),
        ("12 main street #4", None, "12345-6789", "SPRINGFIELD", "USA"),
        ("12 MAIN STREET", "Apt 4", "12345", "Springfield", "United States"),
        ("12 Main Str", "Apartment 4", "12345", None, "us"),
        ("12 Main St", "4", "12345", "Springfield", "US"),
        ("12  Main   St.,  Unit 04", None, " 12345 ", "Springfield", "US"),
        ("Apt 4, 12 Main Street", None, "12345", "Springfield", "US"),
    ]),
    ("221b baker street|2|nw16xe|gb", [
        ("221B Baker Street", "Flat 2", "NW1 6XE", "London", "GB"),
        ("221b baker st", "flat 2", "nw16xe", "LONDON", "UK"),
        ("221B Baker St.", "Flat 2", "NW1-6XE", "London", "United Kingdom"),
    ]),
    ("haupt street 5||10115|de", [
        ("Hauptstraße 5", None, "10115", "Berlin", "DE"),
        ("Hauptstr. 5", None, "10115", "Berlin", "Germany"),
        ("Hauptstrasse 5", None, "10 115", "BERLIN", "Deutschland"),
        ("Haupt Str. 5", None, "10115", "Berlin", "DE"),
    ]),
    ("lenina ulitsa 5|12|620014|ru", [
        ("ul. Lenina, d. 5, kv. 12", None, "620014", "Ekaterinburg", "RU"),
        ("ulitsa Lenina 5", "kv 12", "620014", "Yekaterinburg", "Russia"),
        ("Ul Lenina d 5 kv 12", None, "620014", None, "RU"),
        ("Lenina ul., d. 5, kv. 12", None, "620014", None, "RU"),
        ("Lenina ulitsa 5", "kv. 12", "620 014", None, "RU"),
    ]),
    # the same street in Cyrillic, and house-flat written "5-12"
    ("lenina ulitsa 5|12|620014|ru", [
        ("ул. Ленина, д. 5, кв. 12", None, "620014", "Екатеринбург", "RU"),
        ("улица Ленина 5", "квартира 12", "620014", "Екатеринбург", "Россия"),
        ("ул. Ленина 5-12", None, "620014", "Екатеринбург", "RU"),
        ("ул Ленина, 5-12", None, "620014", None, "RU"),
        ("Ленина ул., д. 5, кв. 12", None, "620014", None, "RU"),
        ("ul. Lenina 5-12", None, "620014", "Ekaterinburg", "RU"),
        ("Lenina ul. 5 - 12", None, "620014", None, "RU"),
        ("УЛ. ЛЕНИНА 5-12", None, "620014", None, "RU"),
        ("ул. Ленина, д.5, кв.12", None, "620014", None, "RU"),
    ]),
    ("tsvetnoy boulevard 2|7|127051|ru", [
        ("Цветной бульвар, д. 2, кв. 7", None, "127051", "Москва", "RU"),
        ("Цветной б-р 2-7", None, "127051", "Москва", "RU"),
        ("Tsvetnoy blvd 2, kv. 7", None, "127051", "Moscow", "RU"),
    ]),
    ("bolshaya sadovaya ulitsa 10|50|123001|ru", [
        ("ул. Большая Садовая, д. 10, кв. 50", None, "123001", "Москва", "RU"),
        ("Bolshaya Sadovaya ul. 10-50", None, "123001", "Moscow", "RU"),
        ("ulitsa Bolshaya Sadovaya 10", "kv 50", "123001", None, "RU"),
    ]),
    ("pobedy prospekt 3a|15|050000|kz", [
        ("пр. Победы 3а-15", None, "050000", "Алматы", "KZ"),
        ("prospekt Pobedy 3a", "kv. 15", "050000", "Almaty", "Kazakhstan"),
        ("просп. Победы, д. 3А, кв. 15", None, "050 000", None, "KZ"),
    ]),
    # a street named by a type word ("Embankment Street"): which word is the type is
    # unknowable, so the pair keeps one order whichever way it was written
    ("naberezhnaya ulitsa 600|65|450984|ru", [
        ("Naberezhnaya ul., 600, kv. 65", None, "450 984", "Ufa", "RU"),
        ("ulitsa Naberezhnaya, dom 600", "kv.65", "450984", "Ufa", "RU"),
        ("ул. Набережная, д. 600, кв. 65", None, "450984", "Уфа", "RU"),
    ]),
    ("lesnaya ulitsa 4||kiev|ua", [
        ("ул. Лесная 4", None, None, "Киев", "UA"),
        ("ul. Lesnaya 4", None, None, "Kiev", "Ukraine"),
    ]),
    ("tsvetnoy boulevard 2||127051|ru", [
        ("Tsvetnoy bulvar 2", None, "127051", "Moscow", "RU"),
        ("Цветной бульвар 2", None, "127051", "Москва", "RU"),
        ("Tsvetnoy blvd. 2", None, "127 051", "Moscow", "Russia"),
    ]),
    ("1 rue de la paix||75002|fr", [
        ("1 Rue de la Paix", None, "75002", "Paris", "FR"),
        ("1, rue de la Paix", None, "75 002", "PARIS", "France"),
    ]),
]


@pytest.mark.parametrize(
    ("key", "spelling"),
    [(key, spelling) for key, spellings in SAME_DWELLING for spelling in spellings],
)
def test_address_written_many_ways_gives_one_dwelling_key(key, spelling):
    assert _key(*spelling) == (key, None)


def test_two_flats_of_one_building_are_two_households():
    assert _key("12 Main St", "Apt 4", "12345")[0] != _key("12 Main St", "Apt 5", "12345")[0]


@pytest.mark.parametrize(("flat_4", "flat_5"), [
    ("ул. Ленина 12-4", "ул. Ленина 12-5"),
    ("ул. Ленина 12-4", "ул. Ленина, д. 12, кв. 5"),
    ("ul. Lenina 12-4", "ул. Ленина 12-5"),
])
def test_house_flat_numbers_keep_two_flats_apart(flat_4, flat_5):
    assert _key(flat_4, None, "614000", None, "RU")[0] != _key(flat_5, None, "614000", None, "RU")[0]


@pytest.mark.parametrize(("line1", "country", "expected"), [
    # a German or American "5-7" is a house number range, not a flat
    ("Hauptstr. 5-7", "DE", "haupt street 5 7||10115|de"),
    ("123-45 Queens Blvd", "US", "123 45 queens boulevard||10115|us"),
    # no street name before the numbers: nothing to split
    ("12-4", "RU", "12 4||10115|ru"),
])
def test_house_flat_rule_applies_only_where_it_means_house_and_flat(line1, country, expected):
    assert _key(line1, None, "10115", None, country)[0] == expected


def test_house_flat_rule_leaves_a_written_flat_alone():
    assert _key("ул. Ленина 12-4", "кв. 9", "614000", None, "RU")[0] == "lenina ulitsa 12 4|9|614000|ru"


def test_cyrillic_city_meets_its_latin_spelling_when_there_is_no_postal_code():
    assert _key("ул. Мира 1", None, None, "Пермь", "RU") == _key("ul. Mira 1", None, None, "Perm", "RU")


def test_city_stands_in_for_a_missing_postal_code():
    assert _key("12 Main St", None, None, "Springfield", "US")[0] == "12 main street||springfield|us"


def test_empty_lines_give_no_address():
    assert _key(None, None, "12345", "Springfield", "US") == (None, None)


@pytest.mark.parametrize("line1, line2", [
    ("Packstation 101", "Postnummer 123456"),
    ("DHL Paketstation 205", None),
    ("ПВЗ Ozon, ул. Ленина 5", None),
    ("Пункт выдачи заказов, ул. Мира 1", None),
    ("Amazon Hub Locker - Kelly", "12 Main St"),
    ("PO Box 1234", None),
    ("P.O. Box 77", None),
    ("c/o MyUS Forwarder", "4300 NW 2nd St"),
    ("12 Main St", "C/O Shipito"),
    ("Постамат 5021", None),
])
def test_pickup_points_and_forwarders_are_flagged(line1, line2):
    assert _key(line1, line2, "12345", "Town", "DE")[1] == "pickup_point"


def test_pickup_keywords_match_whole_words_only():
    assert _key("12 Blockers Lane", None, "12345")[1] is None  # "locker" inside a word
    assert _key("12 Main St", None, "12345", pickup=("main",))[1] == "pickup_point"


def test_placeholder_addresses_are_junk():
    keys = pd.Series([_key(line)[0] for line in ("n/a", "-", "unknown", "12 Main St")])
    assert junk_values("address", keys).tolist() == [True, True, True, False]


_line = st.sampled_from(["12 Main St.", "12 main street", "Hauptstr. 5", "ул. Ленина, д. 5",
                         "221B Baker Street", "1 Rue de la Paix", "PO Box 12"])
_line2 = st.sampled_from([None, "Apt 4", "#4", "kv. 12", "Flat 2", "4", ""])


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(_line, _line2, st.sampled_from(["12345", "NW1 6XE", None])),
                min_size=1, max_size=20), st.randoms())
def test_normalising_twice_changes_nothing_and_row_order_does_not_matter(rows, rnd):
    frame = pd.DataFrame(rows, columns=["line1", "line2", "postal_code"], dtype=object).assign(
        city="Town", country="US")
    once = normalize_addresses(frame, pickup_keywords=PICKUP)
    # the key's street and unit, fed back as line 1 and line 2, give the key again
    parts = once["value"].str.split("|", expand=True)
    again = pd.DataFrame({"line1": parts[0], "line2": ("apt " + parts[1]).where(parts[1] != ""),
                          "postal_code": parts[2], "city": "Town", "country": parts[3]})
    twice = normalize_addresses(again, pickup_keywords=PICKUP)
    assert twice["value"].tolist() == once["value"].tolist()
    order = list(range(len(frame)))
    rnd.shuffle(order)
    shuffled = normalize_addresses(frame.iloc[order], pickup_keywords=PICKUP)
    pd.testing.assert_frame_equal(shuffled.sort_index(), once)


def test_each_row_gets_the_key_it_gets_alone_whatever_rows_share_its_fields():
    # rows that share some fields and differ in one; a control character in a field
    rows = [("12 Main St", "Apt 4", "12345", "Springfield", "US"),
            ("12 Main St", "Apt 5", "12345", "Springfield", "US"),
            ("12 Main St", "Apt 4", "12346", "Springfield", "US"),
            ("12 Main St", "Apt 4", None, "Springfield", "GB"),
            ("12 Main St", "Apt\x1f4", "12345", "Springfield", "US"),
            ("12 Main\x1fSt", "Apt 4", "12345", "Springfield", "US"),
            (None, "Apt 4", "12345", "Springfield\x1f", "US"),
            ("12 Main St", "Apt 4", "12345", "Springfield", "US")]
    frame = pd.DataFrame(rows, columns=["line1", "line2", "postal_code", "city", "country"],
                         dtype=object)
    together = normalize_addresses(frame, pickup_keywords=PICKUP)
    alone = [_key(*row) for row in rows]
    assert [(v if pd.notna(v) else None) for v in together["value"]] == [k for k, _ in alone]
    assert together["value"].iloc[0] == together["value"].iloc[4] == together["value"].iloc[7]
    assert len(set(together["value"].iloc[:4])) == 4
