"""docs/contracts/content.md body rules: template syntax stripped, links absolute, HTML safe, XML clean.

Every check reads the built feeds back (Atom through feedparser, XML through lxml), so what is
tested is what a feed reader receives.
"""

from __future__ import annotations

from lxml import etree
from lxml import html as lxml_html

from .fidelity import corpus_documents
from .helpers import Site, doc

XML_FORBIDDEN = "\x00\x01\x08\x0b\x0c\x1f\ufffe\uffff"


def content_of(site: Site, body: str, front_matter: str = "title: A\ndate: 2024-01-01") -> str:
    site.add("a.md", doc(front_matter, body))
    built = site.build()
    assert built.code == 0, built.stderr
    return built.entries()["A"].content[0].value


def test_liquid_tags_and_outputs_do_not_leak(site: Site):
    body = (
        "{% include banner.html title='x' %}\n\n"
        "Before {{ site.title | upcase }} after.\n\n"
        "{% if page.show %}\nShown text.\n{% endif %}\n\n"
        "[Home]({{ site.baseurl }}/accueil/)\n\n"
        "{%- comment -%}\nmulti\nline\n{%- endcomment -%}\n"
    )
    html = content_of(site, body)
    assert "{%" not in html and "%}" not in html
    assert "{{" not in html and "}}" not in html
    assert "Before" in html and "after." in html and "Shown text." in html
    assert 'href="https://example.org/accueil/"' in html


def test_kramdown_attribute_lists_do_not_leak(site: Site):
    body = (
        "A paragraph.\n{: .lead}\n\n"
        '[Link](https://example.net/){:target="_blank"} and more.\n\n'
        '{::options parse_block_html="true" /}\n\n'
        "{::comment}\nhidden\n{:/comment}\n\n"
        # A mistyped list, as the real corpus has: closed by ")" instead of "}".
        '(see [the law](https://example.net/law){:target="_blank") of 2005)\n'
    )
    html = content_of(site, body)
    assert "{:" not in html
    assert ".lead" not in html
    assert "_blank" not in html
    assert "(see" in html and "of 2005)" in html


def test_relative_links_and_sources_are_made_absolute(site: Site):
    body = (
        "[page](autre-page/) [root](/a-propos/) [up](../voisin/) [frag](#section)\n\n"
        "![image](images/photo.jpg) ![root image](/assets/logo.png)\n\n"
        '<a href="doc.pdf">raw link</a> <img src="/raw.png" alt="">\n\n'
        "[absolute](https://other.example.net/x) [mail](mailto:presse@example.org)\n"
    )
    html = content_of(site, body)
    fragment = lxml_html.fragment_fromstring(html, create_parent="div")
    urls = [v for el in fragment.iter() for k, v in el.attrib.items() if k in ("href", "src")]
    assert sorted(urls) == sorted(
        [
            "https://example.org/news/a/autre-page/",
            "https://example.org/a-propos/",
            "https://example.org/news/voisin/",
            "https://example.org/news/a/#section",
            "https://example.org/news/a/images/photo.jpg",
            "https://example.org/assets/logo.png",
            "https://example.org/news/a/doc.pdf",
            "https://example.org/raw.png",
            "https://other.example.net/x",
            "mailto:presse@example.org",
        ]
    )


def test_scripts_event_handlers_and_javascript_urls_are_removed(site: Site):
    body = (
        "<script>alert('script')</script>\n\n"
        "<p onclick=\"alert('p')\" onmouseover=\"alert('m')\">Paragraph</p>\n\n"
        '<img src="/x.png" onerror="alert(\'img\')" alt="x">\n\n'
        "[md link](javascript:alert('md'))\n\n"
        "<a href=\"JaVaScRiPt:alert('a')\">raw link</a>\n\n"
        "<a href=\" &#106;avascript:alert('e')\">entity link</a>\n\n"
        "<iframe src=\"javascript:alert('f')\"></iframe>\n\n"
        "<svg><script>alert('svg')</script></svg>\n"
    )
    html = content_of(site, body)
    assert "alert" not in html
    fragment = lxml_html.fragment_fromstring(html, create_parent="div")
    assert not fragment.xpath("//script | //iframe")
    for element in fragment.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            assert "javascript" not in value.lower(), (element.tag, name, value)
    assert "Paragraph" in html and "raw link" in html


def test_characters_xml_forbids_are_removed_everywhere(site: Site):
    yaml_escapes = "".join(f"\\u{ord(c):04x}" for c in XML_FORBIDDEN)
    front_matter = (
        f'title: "Bad{yaml_escapes} title"\ndate: 2024-01-01\n'
        f'categories: ["Cat{yaml_escapes}"]\nauthor: "Au{yaml_escapes}thor"\n'
        f'chapeau-text: "Sum{yaml_escapes}mary"'
    )
    body = f"Body{XML_FORBIDDEN.replace(chr(0), '')} text.\n"
    site.add("a.md", doc(front_matter, body))
    built = site.build()
    assert built.code == 0, built.stderr
    for path in sorted(built.out.rglob("*.xml")):
        etree.parse(str(path))  # raises on any character XML 1.0 forbids
    item = built.items()["Bad title"]
    assert item["tags"] == ["Cat"]
    assert item["authors"] == [{"name": "Author"}]
    assert item["summary"] == "Summary"
    assert item["content_html"] == "<p>Body text.</p>"
    assert built.entries()["Bad title"].author == "Author"


def test_fenced_code_keeps_html_and_asterisks_literal(site: Site):
    """Inside fenced code (``` or ~~~) nothing is an HTML block or emphasis: a reader sees the
    characters the author typed, as kramdown shows them; outside, both still apply."""
    body = (
        "Some **bold** words.\n\n"
        '```html\n<div class="card">\n**not bold**\n</div>\n```\n\n'
        "~~~\n<span>a</span> and **b**\n~~~\n\n"
        "<div>after</div>\n"
    )
    fragment = lxml_html.fragment_fromstring(content_of(site, body), create_parent="div")
    codes = [code.text_content() for code in fragment.iter("code")]
    assert codes == ['<div class="card">\n**not bold**\n</div>\n', "<span>a</span> and **b**\n"]
    assert [strong.text_content() for strong in fragment.iter("strong")] == ["bold"]
    assert "after" in [div.text_content() for div in fragment.iter("div")]


EDGE_FRAGMENTS = [
    "",
    "   ",
    "text only",
    "<br>",
    "a<!-- a comment -->b",
    "<p>first</p>tail",
    "&amp;&lt;&#8217;",
    "<p>\u00a0spaced\n\tout </p>",
    "<table><tr><td>a</td></tr></table>b",
    "x<p>y</p>",
    "<html><body>z</body></html>",
    "<head>h</head><title>t</title>x",
]


def test_plain_text_is_the_text_lxml_html_finds():
    """The fast path gives, for every corpus body and summary-sized slice of it, the text
    ``lxml.html`` finds (the reference it replaced), white space collapsed."""
    from syndicator.content.markup import plain_text

    fragments = [*EDGE_FRAGMENTS]
    for document in corpus_documents():
        body = document.ours
        fragments += [body, body[:200], body[-300:]]
    for fragment in fragments:
        reference = (
            " ".join(
                lxml_html.fragment_fromstring(fragment, create_parent="div").text_content().split()
            )
            if fragment
            else ""
        )
        assert plain_text(fragment) == reference, fragment
