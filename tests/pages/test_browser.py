"""The directory and the feed pages as a person sees them in Chromium, built from the corpus."""

from __future__ import annotations

import re
import unicodedata

import pytest
from axe_playwright_python.sync_playwright import Axe
from feeds.helpers import BASE_URL
from feeds.reference import PARIS
from playwright.sync_api import expect

from .conftest import SCREENSHOTS, BuiltSite

CATEGORY = "categories/communique-de-presse"
TAG = "tags/etalab"
PAGES = ["", CATEGORY, TAG]
# Written out here rather than asked of Babel: the test says what a French reader must see.
MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"


def french_date(moment) -> str:
    day = moment.astimezone(PARIS)
    return f"{day.day} {MONTHS.split()[day.month - 1]} {day.year}"


def fold(text: str) -> str:
    """Lower case without accents: typing « donnees » finds « Données »."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def url(path: str) -> str:
    return f"/{path}/" if path else "/"


def test_the_directory_lists_every_feed_with_its_count(site: BuiltSite, open_tab):
    tab = open_tab()
    page = tab.page
    page.goto("/")
    expect(page).to_have_title(re.compile("flux"))
    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    alternates = page.locator("head link[rel=alternate]")
    assert sorted(alternates.evaluate_all("ls => ls.map(l => l.href)")) == [
        f"{BASE_URL}/{name}" for name in ("atom.xml", "feed.json", "rss.xml")
    ]
    feeds = site.feeds()
    site_facts = page.locator(".site-feed > .facts").inner_text()
    assert site_facts.startswith(f"{len(feeds[''])} articles, mis à jour le ")
    rows = page.locator("[data-list] > li")
    listed = {}
    for row in rows.all():
        link = row.get_by_role("link")
        href = link.get_attribute("href")
        count = re.match(r"(\d+) articles?", row.locator(".facts").inner_text())
        assert count, row.inner_text()
        listed[href.rstrip("/")] = int(count.group(1))
    assert listed == {folder: len(items) for folder, items in feeds.items() if folder}
    titles = site.expected.titles()
    for folder, title in titles.items():
        if folder:
            expect(page.locator(f'[data-list] a[href="{folder}/"]')).to_have_text(title)


def test_typing_filters_and_the_select_sorts(site: BuiltSite, open_tab):
    tab = open_tab()
    page = tab.page
    page.goto("/")
    rows = page.locator("[data-list] > li")
    total = rows.count()
    page.get_by_label("Le nom contient").fill("donnees")
    visible = page.locator("[data-list] > li:visible")
    names = visible.locator("a").all_inner_texts()
    assert names and all("donnees" in fold(n) for n in names), names
    hidden_names = page.locator("[data-list] > li:not(:visible) a").all_text_contents()
    assert len(names) + len(hidden_names) == total
    assert not [n for n in hidden_names if "donnees" in fold(n)]
    expect(page.get_by_role("status")).to_have_text(f"Flux affichés : {len(names)} sur {total}")
    page.get_by_label("Le nom contient").fill("zzzz-nothing")
    expect(page.locator("[data-none]:visible")).to_have_count(2)
    page.get_by_label("Le nom contient").fill("")
    page.get_by_label("Trier par").select_option("size")
    sizes = [
        int(s)
        for s in page.locator("[data-list]")
        .first.locator("li")
        .evaluate_all("rows => rows.map(r => r.dataset.size)")
    ]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) > 1
    first = page.locator("[data-list]").first.locator("li a").first
    biggest = max(
        (f for f in site.feeds() if f.startswith("categories/")), key=lambda f: len(site.feeds()[f])
    )
    assert len(site.feeds()[biggest]) == sizes[0]
    page.get_by_label("Trier par").select_option("updated")
    stamps = (
        page.locator("[data-list]")
        .last.locator("li")
        .evaluate_all("rows => rows.map(r => Date.parse(r.dataset.updated))")
    )
    assert stamps == sorted(stamps, reverse=True)
    first.click()
    expect(page).to_have_url(re.compile(r"/categories/[a-z0-9-]+/$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_the_copy_button_puts_the_address_on_the_clipboard(open_tab):
    tab = open_tab(permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.goto(url(TAG))
    button = page.get_by_role("button", name="Copier l’adresse Atom")
    expect(button).to_be_visible()
    button.click()
    expected = f"{BASE_URL}/{TAG}/atom.xml"
    expect(page.get_by_role("status")).to_have_text(f"Adresse copiée : {expected}")
    assert page.evaluate("navigator.clipboard.readText()") == expected
    expect(page.get_by_role("button", name=re.compile("^Copier"))).to_have_count(3)


@pytest.mark.parametrize("folder", [CATEGORY, TAG])
def test_a_feed_page_shows_the_feed_and_how_to_follow_it(site: BuiltSite, open_tab, folder):
    tab = open_tab()
    page = tab.page
    page.goto(url(folder))
    items = site.feeds()[folder]
    name = site.expected.titles()[folder]
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    facts = page.locator("main > .facts").inner_text()
    oldest = min(i.published for i in items)
    assert facts.startswith(f"{len(items)} articles, mis à jour le ")
    assert facts.endswith(f"le plus ancien du {french_date(oldest)}.")
    alternates = page.locator("head link[rel=alternate]").evaluate_all("ls => ls.map(l => l.href)")
    assert sorted(alternates) == [
        f"{BASE_URL}/{folder}/{n}" for n in ("atom.xml", "feed.json", "rss.xml")
    ]
    cards = page.locator(".items > li")
    expect(cards).to_have_count(min(50, len(items)))
    links = cards.locator("h3 a").evaluate_all("as => as.map(a => a.href)")
    assert set(links) <= {i.link for i in items}
    dates = cards.locator(".meta time").all_inner_texts()
    assert dates == [french_date(i.published) for i in items[: len(dates)]]
    for card in cards.all()[:5]:
        expect(card.locator("h3 a")).to_be_visible()
    # The articles' images are on the real site, out of reach here: a card whose image
    # cannot load shows no broken image.
    first_image = tab.context.request.get(url(folder)).text().split('class="items"')[1]
    if first_image.split("</li>")[0].count("<img"):
        expect(cards.first.locator("img")).to_have_count(0)
    expect(page.get_by_role("heading", name="Suivre ce flux")).to_be_visible()
    expect(page.get_by_text(f"{BASE_URL}/{folder}/rss.xml", exact=True)).to_be_visible()
    readers = page.locator("a.reader")
    expect(readers.first).to_have_attribute("href", f"feed:{BASE_URL}/{folder}/atom.xml")
    expect(readers).to_have_text(
        ["Mon application de lecture de flux", "Feedly", "Inoreader", "NewsBlur", "The Old Reader"]
    )
    expect(page.locator(".hub")).to_contain_text(f"{BASE_URL}/hub")
    expect(page.locator(".api")).to_contain_text(f"{BASE_URL}/openapi.json")
    # Following the RSS link reaches the feed document itself.
    with page.expect_response(f"**/{folder}/rss.xml") as response:
        page.get_by_role("link", name="RSS", exact=True).click()
    assert response.value.ok
    page.go_back()
    page.get_by_role("link", name="Tous les flux").click()
    expect(page).to_have_url(re.compile(r"127\.0\.0\.1:\d+/$"))
    # Only articles' images may come from elsewhere: no script, style or font.
    assert {kind for kind, _ in tab.outside} <= {"image"}, tab.outside


def test_without_javascript_every_feed_is_listed_and_no_dead_control_shows(site, open_tab):
    tab = open_tab(java_script_enabled=False)
    page = tab.page
    page.goto("/")
    expect(page.locator("[data-list] > li:visible")).to_have_count(len(site.feeds()) - 1)
    expect(page.get_by_label("Le nom contient")).to_be_hidden()
    expect(page.get_by_role("button")).to_have_count(0)
    page.goto(url(CATEGORY))
    expect(page.get_by_text(f"{BASE_URL}/{CATEGORY}/atom.xml", exact=True)).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_violation(open_tab, path, scheme):
    tab = open_tab(permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.emulate_media(color_scheme=scheme)
    page.goto(url(path))
    page.get_by_role("button").first.focus()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
@pytest.mark.parametrize("path", ["", CATEGORY])
def test_screenshots_and_nothing_wider_than_the_screen(open_tab, path, width, height, scheme):
    """Screenshots for a person to look at (tests/pages/screenshots/); phones never scroll
    sideways."""
    tab = open_tab(viewport={"width": width, "height": height}, color_scheme=scheme)
    page = tab.page
    page.goto(url(path))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SCREENSHOTS.mkdir(exist_ok=True)
    stem = (path.replace("/", "-") or "directory") + f"-{width}-{scheme}"
    # The first screen as a person sees it, and the whole page.
    for name, full in ((f"{stem}.png", False), (f"{stem}-full.png", True)):
        page.screenshot(path=str(SCREENSHOTS / name), full_page=full)
        assert (SCREENSHOTS / name).stat().st_size > 0
    print(f"screenshots: {SCREENSHOTS.resolve()}/{stem}*.png")


@pytest.mark.parametrize("path", PAGES)
def test_nothing_scrolls_sideways_on_the_narrowest_phone(open_tab, path):
    tab = open_tab(viewport={"width": 320, "height": 640})
    tab.page.goto(url(path))
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= 320


def test_the_first_tab_shows_a_skip_link_with_a_visible_focus(open_tab):
    tab = open_tab()
    page = tab.page
    page.goto(url(CATEGORY))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate(
        "a => getComputedStyle(a).outlineStyle + ' ' + getComputedStyle(a).outlineWidth"
    )
    assert outline == "solid 3px", outline
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.closest('main') !== null")
    assert focused


def test_printing_hides_the_controls_and_prints_article_addresses(open_tab):
    tab = open_tab(permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    page.goto(url(TAG))
    expect(page.get_by_role("button").first).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("button")).to_have_count(0)
    expect(page.locator("button.copy")).to_have_count(3)
    expect(page.locator(".readers")).to_be_hidden()
    first = page.locator(".items h3 a").first
    after = first.evaluate("a => getComputedStyle(a, '::after').content")
    assert after == f'" <{first.get_attribute("href")}>"', after
