import numpy as np
import pytest

from siamkit.data.sources import ClassSet, ImageSet, PairSet, match_groups, read_source
from siamkit.errors import SiamkitError
from tests.conftest import write_image


def test_match_groups_are_connected_components_of_positive_pairs():
    a = np.array(["x", "y", "p", "x"])
    b = np.array(["y", "z", "q", "p"])
    label = np.array([1, 1, 1, 0])
    group_a, group_b = match_groups(a, b, label)
    assert group_a[0] == group_b[0] == group_a[1] == group_b[1]  # x-y-z chained
    assert group_a[2] == group_b[2] != group_a[0]  # p-q apart; the negative x-p joins nothing
    assert group_a[3] == group_a[0] and group_b[3] == group_a[2]


def test_pairs_split_keeps_groups_whole_and_drops_cross_split_negatives(pairs_table):
    pairs = read_source(pairs_table, fractions=(0.5, 0.25, 0.25), seed=3)
    assert isinstance(pairs, PairSet)
    split_of_image = {}
    for names, split in ((pairs.a, pairs.split), (pairs.b, pairs.split)):
        for name, s in zip(names, split):
            assert split_of_image.setdefault(name, s) == s  # no image on two sides
    assert set(pairs.split) <= {"train", "val", "test"} and (pairs.label == 1).sum() == 6


def test_class_folder_split_within_classes_without_overlap(class_folder):
    data = read_source(class_folder, fractions=(0.5, 0.25, 0.25))
    assert isinstance(data, ClassSet) and data.class_names == ["class0", "class1", "class2", "class3"]
    for c in range(4):
        splits = data.split[data.label == c]
        assert sorted(splits.tolist()) == ["test"] * 2 + ["train"] * 4 + ["val"] * 2
    assert len(set(data.path)) == len(data.path)


def test_flat_folder_is_unlabelled_images(class_folder):
    data = read_source(class_folder / "class0")
    assert isinstance(data, ImageSet) and len(data) == 8
    with pytest.raises(SiamkitError, match="has no sub-folders, and kind classes reads a folder per class"):
        read_source(class_folder / "class0", kind="classes")  # was read as unlabelled images


def test_copies_of_one_file_under_other_names_split_together_and_the_rest_as_before(class_folder):
    """The same bytes under two names are one image: split apart, they would leak."""
    import shutil

    before = {seed: read_source(class_folder, fractions=(0.5, 0.25, 0.25), seed=seed) for seed in range(8)}
    shutil.copy(class_folder / "class0" / "0.png", class_folder / "class0" / "0 copy.png")
    shutil.copy(class_folder / "class0" / "1.png", class_folder / "class0" / "1 copy.png")
    shutil.copy(class_folder / "class0" / "1.png", class_folder / "class0" / "1 copy 2.png")
    for seed in range(8):
        data = read_source(class_folder, fractions=(0.5, 0.25, 0.25), seed=seed)
        split = dict(zip(data.path, data.split))
        assert split["class0/0.png"] == split["class0/0 copy.png"]
        assert split["class0/1.png"] == split["class0/1 copy.png"] == split["class0/1 copy 2.png"]
        unchanged = dict(zip(before[seed].path, before[seed].split))
        assert {k: v for k, v in split.items() if k.startswith(("class1", "class2", "class3"))} == {
            k: v for k, v in unchanged.items() if not k.startswith("class0")}, "classes without copies"
        flat = read_source(class_folder / "class0", fractions=(0.5, 0.25, 0.25), seed=seed)
        split = dict(zip(flat.path, flat.split))
        assert split["0.png"] == split["0 copy.png"] and split["1.png"] == split["1 copy 2.png"]


def test_a_copy_of_a_file_under_another_name_joins_its_match_group(pairs_table):
    import shutil

    shutil.copy(pairs_table.parent / "img2.png", pairs_table.parent / "img2_again.png")
    with pairs_table.open("a") as table:
        table.write("img2_again.png,img4.png,0\n")  # img2's bytes: in img2's group, never apart from it
    pairs = read_source(pairs_table, fractions=(1, 0, 0))
    group = dict(zip(np.concatenate([pairs.a, pairs.b]), np.concatenate([pairs.group_a, pairs.group_b])))
    assert group["img2_again.png"] == group["img2.png"] == group["img3.png"] != group["img4.png"]
    assert len(set(group.values())) == 6, "the other groups as they were"


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_jsonl_and_parquet_tables(pairs_table, suffix):
    import pandas as pd

    table = pd.read_csv(pairs_table)
    target = pairs_table.with_suffix(f".{suffix}")
    table.to_json(target, orient="records", lines=True) if suffix == "jsonl" else table.to_parquet(target)
    assert isinstance(read_source(target), PairSet)


def test_pair_labels_may_be_true_and_false_in_a_csv_as_in_jsonl(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\nx.png,y.png,True\nx.png,z.png,false\n")
    assert read_source(tmp_path / "t.csv", fractions=(1, 0, 0)).label.tolist() == [1, 0]


def test_explicit_split_column_is_used_and_leaks_are_refused(tmp_path, pairs_table):
    text = pairs_table.read_text().splitlines()
    good = [text[0] + ",split"] + [f"{row},{'train' if i < 6 else 'test'}" for i, row in enumerate(text[1:])]
    pairs_table.write_text("\n".join(good) + "\n")
    with pytest.raises(SiamkitError, match="more than one split"):
        read_source(pairs_table)  # img3 is in a train negative and a test pair
    rows = [text[0] + ",split"] + [f"{row},train" for row in text[1:]]
    pairs_table.write_text("\n".join(rows) + "\n")
    assert set(read_source(pairs_table).split) == {"train"}


@pytest.mark.parametrize("content,message", [
    ("a,b\nx.png,y.png\n", "missing column"),
    ("a,b,label\nx.png,y.png,maybe\n", "must be 1 .same. or 0"),
    ("path,label,split\nx.png,1,holdout\n", "must hold train, val or test"),
    ("a,b,label\nx.png,y.png,1\ny.png,x.png,0\n", "the pair x.png . y.png is labelled both 1 .same. and 0"),
    ("a,b,label\nx.png,y.png,1\nz.png,,0\n", "row 2 .after the header. has no image in column b"),
    ("path,label\nx.png,1\n  ,0\n", "row 2 .after the header. has no image in column path"),
    ("a,b,label\nx.png,y.png,1\nx.png,HTTPS://e.com/y.png,0\n",  # had been "https:/e.com/y.png: file not
     "column b holds 1 URL .row 2 after the header: HTTPS://e.com/y.png., and siamkit reads local"),  # found"
])
def test_bad_tables_name_the_problem(tmp_path, content, message):
    (tmp_path / "t.csv").write_text(content)
    with pytest.raises(SiamkitError, match=message):
        read_source(tmp_path / "t.csv", kind="pairs" if content.startswith("a,b\n") else "auto")


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_a_table_that_is_not_utf8_says_how_to_save_it(tmp_path, encoding):
    """A spreadsheet's "Unicode text" and Windows' own code page: was the codec's message."""
    (tmp_path / "t.csv").write_bytes("a,b,label\ncafé.png,y.png,1\n".encode(encoding))
    with pytest.raises(SiamkitError, match=r"t.csv: it is not UTF-8 text \(byte 0x.. at position \d+\); "
                                           r"save it as UTF-8 \(a spreadsheet's \"CSV UTF-8\"\)"):
        read_source(tmp_path / "t.csv")


def test_missing_data_names_the_path_and_the_options(tmp_path):
    with pytest.raises(SiamkitError, match="data not found: .*nowhere.*demo:digits"):
        read_source(tmp_path / "nowhere")


def test_a_pair_listed_twice_counts_once(tmp_path, caplog):
    (tmp_path / "t.csv").write_text("a,b,label\nx.png,y.png,1\ny.png,x.png,1\nx.png,z.png,0\nx.png,y.png,1\n")
    pairs = read_source(tmp_path / "t.csv")
    assert sorted(zip(pairs.a, pairs.b, pairs.label)) == [("x.png", "y.png", 1), ("x.png", "z.png", 0)]
    assert "2 pair rows repeat an earlier row" in caplog.text


def test_a_root_that_is_not_a_folder_or_is_given_for_a_folder_is_refused(tmp_path, pairs_table, class_folder):
    """It used to be read as the images' folder (every image "not found") or ignored."""
    with pytest.raises(SiamkitError, match=f"root {tmp_path / 'gone'} does not exist .* image paths of"):
        read_source(pairs_table, root=tmp_path / "gone")
    with pytest.raises(SiamkitError, match="is for tables, whose image paths it resolves.*leave root out"):
        read_source(class_folder, root=tmp_path)
    assert len(read_source(pairs_table, root=pairs_table.parent)) == len(read_source(pairs_table))


def test_a_source_under_the_home_folder_is_found_as_the_shell_would(class_folder, monkeypatch):
    """A YAML config's ``~/photos`` reaches siamkit unexpanded."""
    from siamkit.data.demo import resolve_source

    monkeypatch.setenv("HOME", str(class_folder.parent))
    assert resolve_source(f"~/{class_folder.name}") == class_folder


def test_a_demo_set_that_cannot_be_made_names_the_cache_to_move(tmp_path, monkeypatch):
    from siamkit.data.demo import resolve_source

    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "a_file"))
    with pytest.raises(SiamkitError, match="demo:photos is made on first use in .*a_file/demo, which "
                                           "cannot be written .*: set SIAMKIT_CACHE to a folder you can "
                                           "write to"):
        resolve_source("demo:photos")


@pytest.mark.parametrize("separator", [";", "\t", ", ", " , ", " ; "])
def test_a_csv_a_spreadsheet_saved_with_another_separator_reads_the_same(separator, pairs_table, tmp_path):
    """Excel in many locales saves a .csv with semicolons (a header of one column had been all it read);
    a table written by hand puts spaces around each comma (" b" and " label" had been its columns, then
    "a " and "b ", read as unlabelled images, and each path with a space at its end not found)."""
    other = tmp_path / "other.csv"
    other.write_text(pairs_table.read_text().replace(",", separator))
    comma = read_source(pairs_table, fractions=(0.5, 0.25, 0.25), seed=3)
    read = read_source(other, root=pairs_table.parent, fractions=(0.5, 0.25, 0.25), seed=3)
    assert (read.a == comma.a).all() and (read.label == comma.label).all()


@pytest.mark.parametrize("fractions", [(0.0, 0.5, 0.5), (0.0, 0.3, 0.7), (0.0, 1.0, 0.0)])
def test_a_train_fraction_of_0_puts_nothing_in_train(fractions, tmp_path):
    """`train evaluate --split-fractions 0 0.5 0.5` scores every image; rounding had sent one of five
    to train (2.5 rounds to 2 for val and for test)."""
    rng = np.random.default_rng(0)
    for c in range(2):
        (tmp_path / f"class{c}").mkdir()
        for i in range(5):
            write_image(tmp_path / f"class{c}" / f"{i}.png", rng, size=8)
    data = read_source(tmp_path, fractions=fractions)
    assert len(data) == 10 and "train" not in set(data.split)


def test_hidden_files_beside_class_folders_are_no_loose_images(class_folder):
    """A ._NAME.png that macOS leaves beside class folders had made them 'mix' images and folders."""
    (class_folder / "._class0.png").write_bytes(b"\x00\x05\x16\x07")
    data = read_source(class_folder)
    assert isinstance(data, ClassSet) and len(data) == 32


def test_a_json_array_saved_as_jsonl_is_named_as_not_json_lines(tmp_path):
    """pandas reads it as one row of a column named 0: 'missing column [path]; found [0]', before."""
    (tmp_path / "pairs.jsonl").write_text('[{"a": "x.png", "b": "y.png", "label": 1}]\n')
    with pytest.raises(SiamkitError, match="is not JSON Lines: write one JSON object per line"):
        read_source(tmp_path / "pairs.jsonl")


def test_folders_siamkit_wrote_inside_a_source_are_not_its_images(class_folder, tmp_path):
    """`train evaluate --out photos/report` had put its ROC curve and score plots among the photos:
    as images to embed, and, beside class folders, as a class of its own to train on."""
    import shutil

    from siamkit.cli.program import main
    from siamkit.retrieval.collection import list_images

    photos = shutil.copytree(class_folder, tmp_path / "photos")
    (tmp_path / "pairs.csv").write_text("a,b,label,split\n" + "".join(
        f"class0/{i}.png,class0/{i + 1}.png,1,{split}\nclass0/{i}.png,class1/{i}.png,0,{split}\n"
        for i, split in ((0, "val"), (2, "val"), (4, "test"), (6, "test"))))
    assert main(["evaluate", "--data", str(tmp_path / "pairs.csv"), "--root", str(photos), "--methods",
                 "histogram", "--bootstrap", "0", "--out", str(photos / "report")]) == 0
    assert list((photos / "report").glob("*.png"))
    data = read_source(photos)
    assert isinstance(data, ClassSet) and data.class_names == ["class0", "class1", "class2", "class3"]
    assert not any("report" in path for path in data.path)
    listing = list_images(photos / "class0")
    shutil.move(photos / "report", photos / "class0" / "report")
    moved = list_images(photos / "class0")
    assert moved.images == listing.images
    assert {(bad.file, bad.reason) for bad in moved.skipped} == {
        (str(photos / "class0" / "report"), "a `train evaluate` report, passed over with all it holds")}


def test_the_files_that_mark_a_folder_siamkit_wrote_are_the_names_it_writes():
    from siamkit.cli.duplicates import OWN_FILES as DUPLICATES_FILES
    from siamkit.cli.evaluate import REPORT_FILES
    from siamkit.cli.leaks import OWN_FILES as LEAKS_FILES
    from siamkit.data.copy_pairs import MADE_FROM_FILE, PAIRS_FILE
    from siamkit.data.listing import WRITTEN_BY_SIAMKIT
    from siamkit.models.card import CONFIG_FILE
    from siamkit.models.folder_checks import WEIGHTS_FILE
    from siamkit.retrieval.index import FILES, META

    written = [REPORT_FILES, (MADE_FROM_FILE, PAIRS_FILE), DUPLICATES_FILES, DUPLICATES_FILES, LEAKS_FILES,
               (META, FILES), (CONFIG_FILE, WEIGHTS_FILE)]
    assert len(written) == len(WRITTEN_BY_SIAMKIT)
    for markers, names in zip(WRITTEN_BY_SIAMKIT, written):
        assert set(markers) <= set(names), markers
