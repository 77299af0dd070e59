from siamkit.wording import counted, none_could_be, number


def test_one_is_singular_and_every_other_count_plural():
    assert counted(1, "image") == "1 image"
    assert [counted(n, "group") for n in (0, 2)] == ["0 groups", "2 groups"]
    assert counted(1, "exact copy", "exact copies") == "1 exact copy"
    assert counted(3, "exact copy", "exact copies") == "3 exact copies"


def test_large_counts_are_grouped_in_thousands():
    assert counted(75254, "near-duplicate pair") == "75,254 near-duplicate pairs"


def test_a_noun_alone_takes_the_number_of_its_count():
    assert [number(n, "option") for n in (1, 2)] == ["option", "options"]
    assert number(2, "sits", "sit") == "sit"


def test_none_of_one_is_the_one():
    assert none_could_be(1, "image", "read") == "the one image could not be read"
    assert none_could_be(2, "query image", "read") == "none of the 2 query images could be read"
