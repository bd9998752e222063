"""docs/contracts/content.md front-matter rules (title, names, summary, image, author, links, IDs)."""

from __future__ import annotations

import re

import pytest

from .helpers import Site, doc


def test_missing_title_warns_and_comes_from_the_file_name(site: Site):
    site.add("2024-02-03-budget-du-numerique.md", doc("date: 2024-02-03"))
    built = site.build()
    assert built.code == 0, built.stderr
    assert set(built.items()) == {"Budget du numerique"}
    assert re.search(r"2024-02-03-budget-du-numerique\.md.*warning.*title", built.stderr)


# Categories and tags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("front_matter", "categories", "tags"),
    [
        ("categories: [Open data, Cloud]\ntags: [a, b]", {"open-data", "cloud"}, {"a", "b"}),
        ("categories: Open data, Cloud\ntags: 'a,b'", {"open-data", "cloud"}, {"a", "b"}),
        ("category: Open data\ntag: a", {"open-data"}, {"a"}),
        ("category: Open data , Cloud\ntag: [a]", {"open-data", "cloud"}, {"a"}),
    ],
)
def test_categories_and_tags_as_list_or_comma_string(site, front_matter, categories, tags):
    site.add("post.md", doc(f"title: Post\ndate: 2024-01-01\n{front_matter}"))
    built = site.build()
    assert built.code == 0, built.stderr
    assert {p.name for p in (built.out / "categories").iterdir()} == categories
    assert {p.name for p in (built.out / "tags").iterdir()} == tags
    entry = built.entries()["Post"]
    assert {t.term for t in entry.tags} == categories | tags


def test_names_keep_their_display_form_in_items(site: Site):
    site.add("post.md", doc("title: Post\ndate: 2024-01-01\ncategories: [Communiqué de presse]"))
    built = site.build()
    (tag,) = built.entries()["Post"].tags
    assert (tag.term, tag.label) == ("communique-de-presse", "Communiqué de presse")
    assert built.items()["Post"]["tags"] == ["Communiqué de presse"]


@pytest.mark.parametrize(
    ("names", "slug"),
    [
        (["Communiqué de presse"], "communique-de-presse"),
        (
            ["Entrepreneurs d’intérêt général", "Entrepreneurs d'Intérêt Général"],
            "entrepreneurs-dinteret-general",
        ),
        (["Cœur"], "coeur"),
        (["Open data", "Open Data", "OPEN DATA"], "open-data"),
        (["Sécurité", "Securite", "se\u0301curite\u0301"], "securite"),
    ],
)
def test_slug_merges_case_and_accent_variants_into_one_feed(site: Site, names, slug):
    for number, name in enumerate(names):
        site.add(
            f"post-{number}.md",
            doc(f'title: Post {number}\ndate: 2024-01-0{number + 1}\ncategories: ["{name}"]'),
        )
    built = site.build()
    assert built.code == 0, built.stderr
    assert [p.name for p in (built.out / "categories").iterdir()] == [slug]
    members = built.items(f"categories/{slug}/feed.json")
    assert set(members) == {f"Post {n}" for n in range(len(names))}


def test_a_tag_too_long_for_a_file_name_gets_a_shortened_feed_folder(site: Site):
    name = "Très long intitulé " * 30
    site.add("long.md", doc(f'title: Long\ndate: 2024-01-01\ntags: ["{name}"]'))
    site.add("short.md", doc("title: Short\ndate: 2024-01-02\ntags: [Court]"))
    built = site.build()
    assert built.code == 0, built.stderr
    folders = {p.name for p in (built.out / "tags").iterdir()}
    (long_slug,) = folders - {"court"}
    assert 150 < len(long_slug) <= 200
    assert long_slug.startswith("tres-long-intitule-tres-long-intitule-")
    assert not long_slug.endswith("-")
    assert set(built.items(f"tags/{long_slug}/feed.json")) == {"Long"}


def test_the_merged_feed_is_titled_with_the_form_most_documents_use(site: Site):
    site.add("a.md", doc("title: A\ndate: 2024-01-01\ntags: [Open data]"))
    site.add("b.md", doc("title: B\ndate: 2024-01-02\ntags: [Open Data]"))
    site.add("c.md", doc("title: C\ndate: 2024-01-03\ntags: [Open Data]"))
    site.add("d.md", doc("title: D\ndate: 2024-01-04\ntags: [open data]"))
    built = site.build()
    assert built.atom("tags/open-data/atom.xml").feed.title == "syndicator – Open Data"
    assert built.json("tags/open-data/feed.json")["title"] == "syndicator – Open Data"


def test_one_document_naming_a_category_twice_is_in_its_feed_once(site: Site):
    site.add("a.md", doc("title: A\ndate: 2024-01-01\ncategories: [Cloud, cloud, CLOUD]"))
    built = site.build()
    assert list(built.items("categories/cloud/feed.json")) == ["A"]
    assert [t.term for t in built.entries()["A"].tags] == ["cloud"]


# Summary and body ----------------------------------------------------------------------------


def test_summary_is_the_first_present_summary_key_rendered_from_markdown(site: Site):
    site.add(
        "a.md",
        doc(
            'title: A\ndate: 2024-01-01\nchapeau-text: ""\nexcerpt: "The **excerpt**"\n'
            "description: The description",
            "Body paragraph.\n",
        ),
    )
    built = site.build()
    assert built.entries()["A"].summary == "<p>The <strong>excerpt</strong></p>"
    assert built.items()["A"]["summary"] == "The excerpt"


def test_summary_keys_can_be_configured(site: Site):
    site.config('[content]\nsummary_keys = ["chapeau"]\n')
    site.add("a.md", doc("title: A\ndate: 2024-01-01\nchapeau: Mine\nexcerpt: Not this"))
    assert site.build().items()["A"]["summary"] == "Mine"


def test_summary_falls_back_to_the_first_paragraph_of_the_body(site: Site):
    body = "# Heading\n\nFirst *paragraph*.\n\nSecond paragraph.\n"
    site.add("a.md", doc("title: A\ndate: 2024-01-01", body))
    built = site.build()
    entry = built.entries()["A"]
    assert entry.summary == "<p>First <em>paragraph</em>.</p>"
    assert "Second paragraph." in entry.content[0].value
    assert "<h1>Heading</h1>" in entry.content[0].value


def test_markdown_tables_are_rendered(site: Site):
    body = "| a | b |\n|---|---|\n| 1 | 2 |\n"
    site.add("a.md", doc("title: A\ndate: 2024-01-01", body))
    html = site.build().items()["A"]["content_html"]
    assert "<table>" in html
    assert "<td>2</td>" in html


# Image, author, external link ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("front_matter", "image"),
    [
        ("image: /img/a.png", "https://example.org/img/a.png"),
        ("image-mise-en-avant: https://cdn.example.net/b.jpg", "https://cdn.example.net/b.jpg"),
        (
            "une-ou-diaporama:\n- image: /img/c.jpg\n- image: /img/d.jpg",
            "https://example.org/img/c.jpg",
        ),
        (
            "image: /img/first.png\nimage-mise-en-avant: /img/second.png",
            "https://example.org/img/first.png",
        ),
    ],
)
def test_image_is_the_first_present_image_key(site: Site, front_matter: str, image: str):
    site.add("a.md", doc(f"title: A\ndate: 2024-01-01\n{front_matter}"))
    built = site.build()
    assert built.items()["A"]["image"] == image
    enclosures = [link.href for link in built.entries()["A"].links if link.rel == "enclosure"]
    assert enclosures == [image]
    assert built.rss().entries[0].enclosures[0].href == image


def test_no_image_key_means_no_image(site: Site):
    site.add("a.md", doc("title: A\ndate: 2024-01-01\nune-ou-diaporama: []"))
    assert "image" not in site.build().items()["A"]


def test_author_keys_and_the_site_author_fallback(site: Site):
    site.config('[site]\nauthor = "DINUM"\n')
    site.add("a.md", doc("title: A\ndate: 2024-01-01\nauthor: Alice"))
    site.add("b.md", doc("title: B\ndate: 2024-01-02\nauteur: Bruno"))
    site.add("c.md", doc("title: C\ndate: 2024-01-03\nauthor: Alice\nauteur: Not Bruno"))
    site.add("d.md", doc("title: D\ndate: 2024-01-04"))
    built = site.build()
    items, entries = built.items(), built.entries()
    expected = {"A": "Alice", "B": "Bruno", "C": "Alice", "D": "DINUM"}
    assert {title: item["authors"][0]["name"] for title, item in items.items()} == expected
    assert {title: entry.author for title, entry in entries.items()} == expected


@pytest.mark.parametrize("key", ["redirection", "redirect_to", "external_url"])
def test_external_url_keys_give_external_url_and_related_link(site: Site, key: str):
    site.add("a.md", doc(f"title: A\ndate: 2024-01-01\n{key}: https://blog.example.net/post"))
    built = site.build()
    item = built.items()["A"]
    assert item["external_url"] == "https://blog.example.net/post"
    assert item["url"] == "https://example.org/news/a/"
    entry = built.entries()["A"]
    assert entry.link == "https://example.org/news/a/"
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == ["https://blog.example.net/post"]


# Link and ID ---------------------------------------------------------------------------------


def test_default_permalink_is_collection_and_slug_of_the_file_name(site: Site):
    site.add("2024-01-05-Été Numérique.md", doc("title: A"))
    site.add("b.markdown", doc("title: B\ndate: 2024-01-01\nslug: Mon Slug Perso"))
    items = site.build().items()
    assert items["A"]["url"] == "https://example.org/news/ete-numerique/"
    assert items["B"]["url"] == "https://example.org/news/mon-slug-perso/"


def test_front_matter_permalink_wins(site: Site):
    site.add("a.md", doc("title: A\ndate: 2024-01-01\npermalink: /espace-presse/a-la-une/"))
    site.add("b.md", doc("title: B\ndate: 2024-01-01\npermalink: sans-slash/"))
    items = site.build().items()
    assert items["A"]["url"] == "https://example.org/espace-presse/a-la-une/"
    assert items["B"]["url"] == "https://example.org/sans-slash/"


def test_permalinks_stay_below_a_base_url_with_a_path(site: Site):
    site.add("a.md", doc("title: A\ndate: 2024-01-01"))
    site.add("b.md", doc("title: B\ndate: 2024-01-01\npermalink: /presse/b/"))
    items = site.build(base_url="https://example.org/site").items()
    assert items["A"]["url"] == "https://example.org/site/news/a/"
    assert items["B"]["url"] == "https://example.org/site/presse/b/"


def test_permalink_pattern_and_per_folder_patterns(site: Site):
    site.config(
        '[content]\npermalink = "/articles/:collection/:slug.html"\n'
        'permalinks = { "_communiques" = "/presse/:slug/" }\n'
    )
    communiques = site.root / "_communiques"
    site.add("a.md", doc("title: A\ndate: 2024-01-01"))
    site.add("c.md", doc("title: C\ndate: 2024-01-01"), folder=communiques)
    items = site.build(content=(site.content, communiques)).items()
    assert items["A"]["url"] == "https://example.org/articles/news/a.html"
    assert items["C"]["url"] == "https://example.org/presse/c/"


def test_id_is_front_matter_id_or_guid_else_the_link(site: Site):
    site.add(
        "a.md", doc("title: A\ndate: 2024-01-01\nid: urn:uuid:1b4e28ba-2fa1-11d2-883f-0016cb5b7e26")
    )
    site.add("b.md", doc("title: B\ndate: 2024-01-02\nguid: tag:example.org,2024:b"))
    site.add("c.md", doc("title: C\ndate: 2024-01-03"))
    built = site.build()
    ids = {"A": "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016cb5b7e26", "B": "tag:example.org,2024:b"}
    ids["C"] = "https://example.org/news/c/"
    assert {t: item["id"] for t, item in built.items().items()} == ids
    assert {t: entry.id for t, entry in built.entries().items()} == ids
    rss = {entry.title: entry for entry in built.rss().entries}
    assert {t: entry.id for t, entry in rss.items()} == ids
    assert rss["A"].link == "https://example.org/news/a/"
    assert not rss["A"].guidislink


def test_ids_do_not_change_when_the_text_is_edited(site: Site):
    path = site.add("a.md", doc("title: A\ndate: 2024-01-01", "First version.\n"))
    site.add("b.md", doc("title: B\ndate: 2024-01-01\nid: b-1", "First version.\n"))
    before = {t: e.id for t, e in site.build().entries().items()}
    path.write_text(doc("title: A\ndate: 2024-01-01\ntags: [new]", "Second, longer version.\n"))
    (site.content / "b.md").write_text(doc("title: B\ndate: 2024-01-01\nid: b-1", "Edited.\n"))
    built = site.build()
    assert {t: e.id for t, e in built.entries().items()} == before
    assert "Second, longer version." in built.items()["A"]["content_html"]


def test_duplicate_ids_keep_the_first_in_path_order_and_name_both(site: Site):
    # Same slug, so same link and ID; code-point order puts "B" before "b" and "a" before "sub/".
    site.add("sub/a.md", doc("title: Copy in a subfolder\ndate: 2024-01-02\ntags: [t, u]"))
    site.add("a.md", doc("title: Original\ndate: 2024-01-01\ntags: [t]"))
    site.add("b.md", doc("title: Lower case\ndate: 2024-01-03\ntags: [t]"))
    site.add("B.md", doc("title: Upper case\ndate: 2024-01-04\ntags: [t]"))
    site.add("x.md", doc("title: X\ndate: 2024-01-05\nid: shared\ntags: [t]"))
    site.add("y.md", doc("title: Y\ndate: 2024-01-06\nid: shared\ntags: [t, u]"))
    built = site.build()
    kept = {"Original", "Upper case", "X"}
    assert set(built.items()) == kept
    assert set(built.items("tags/t/feed.json")) == kept
    assert not (built.out / "tags" / "u").exists()
    conflicts = [line for line in built.stderr.splitlines() if "same id" in line]
    assert len(conflicts) == 3, built.stderr
    for loser, winner in (("sub/a.md", "_news/a.md"), ("b.md", "B.md"), ("y.md", "x.md")):
        assert any(f"_news/{loser}" in c and winner in c for c in conflicts), (loser, conflicts)


def test_no_feed_holds_one_id_twice(site: Site):
    for n in range(3):
        site.add(
            f"p{n}.md", doc(f"title: P{n}\ndate: 2024-01-0{n + 1}\nguid: same\ncategories: [c]")
        )
    built = site.build()
    for path in ("feed.json", "categories/c/feed.json"):
        ids = [item["id"] for item in built.json(path)["items"]]
        assert ids == ["same"]
    assert [e.id for e in built.atom("categories/c/atom.xml").entries] == ["same"]


def test_an_entry_with_neither_body_nor_summary_carries_its_title(site: Site):
    """So that no entry is without text (W3C's validator: "Missing textual content")."""
    site.add("empty.md", doc("title: Rapport <2024> & annexes\ndate: 2024-01-01", ""))
    site.add("body.md", doc("title: With body\ndate: 2024-01-02", "Le corps.\n"))
    built = site.build()
    assert built.code == 0, built.stderr
    entries = built.entries()
    assert entries["Rapport <2024> & annexes"].summary == "Rapport &lt;2024&gt; &amp; annexes"
    assert entries["With body"].summary == "<p>Le corps.</p>"
    item = built.items()["Rapport <2024> & annexes"]
    assert item["summary"] == "Rapport <2024> & annexes"
