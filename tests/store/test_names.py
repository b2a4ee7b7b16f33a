from kgfm.store.names import base_name, quote_identifier, rel_type_name


def test_base_names():
    assert base_name("/film/film/genre") == "film_film_genre"
    assert base_name("_hypernym") == "hypernym"
    assert base_name("http://schema.org/director") == "director"
    assert base_name("http://example.org/vocab#starsIn") == "starsIn"
    assert base_name("directed_by") == "directed_by"
    assert base_name("2nd-order") == "r_2nd_order"
    assert base_name("Entity") == "Entity_rel"
    assert base_name("!!!") == "rel"
    long = base_name("x" * 300)
    assert len(long) <= 96 and long != base_name("x" * 301)


def test_collisions_are_resolved_casefolded_and_stable():
    taken: dict[str, str] = {}
    a = rel_type_name("http://a.org/name", taken)
    b = rel_type_name("http://b.org/name", taken)
    c = rel_type_name("http://c.org/Name", taken)
    assert (a, b, c) == ("name", "name_2", "Name_3")
    assert rel_type_name("http://a.org/name", taken) == "name"


def test_quote_identifier_escapes_backticks():
    assert quote_identifier("a`b") == "`a``b`"
