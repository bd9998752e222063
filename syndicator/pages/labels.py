"""Every word the pages show, in each language they speak, and dates and counts in that language.

One table per language, so a translation is one dictionary to add. A site whose language has no
table gets English words (and English dates, so that a page never mixes two languages); Babel
knows the month names, number separators and plural rules, which differ more than a small
table could say (French: « 0 article », English: "0 articles").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from markupsafe import Markup, escape

FALLBACK = "en"

# Plural forms are dictionaries keyed by Babel's plural categories ("one", "other", …).
LABELS: dict[str, dict[str, str | dict[str, str]]] = {
    "en": {
        "skip": "Skip to content",
        "directory_title": "{site}: feeds",
        "directory_intro": (
            "A feed lists the newest articles of a site. Give its address to a feed reader "
            "(an app or a web service): it shows you each new article as it comes out, with no "
            "account on this site and no tracking."
        ),
        "whole_site": "The whole site",
        "category": "Category",
        "tag": "Tag",
        "categories": "Categories",
        "tags": "Tags",
        "items": {"one": "{n} article", "other": "{n} articles"},
        "updated": "updated {date}",
        "oldest": "the oldest from {date}",
        "follow": "Follow this feed",
        "addresses": "Its address, in the format your reader prefers",
        "copy": "Copy",
        "copy_label": "Copy the {format} address",
        "copied": "Address copied: {url}",
        "open_in": "Open it in my reader",
        "reader_app": "My feed reader app",
        "hub": "Readers that support WebSub get new articles at once through the hub {hub}.",
        "webhooks": (
            "Applications can receive each new article of this feed as a signed webhook "
            "through the API ({api})."
        ),
        "latest": "Latest articles",
        "all_feeds": "All feeds",
        "find": "Find a feed",
        "filter": "Name contains",
        "sort": "Sort by",
        "sort_name": "Name",
        "sort_size": "Number of articles",
        "sort_recent": "Latest update",
        "shown": "Feeds shown: {shown} of {total}",
        "none_match": "No feed of this kind matches.",
        "opml": "Download every feed as one OPML file, to import them all into a reader at once",
        "made_by": "Feeds made by syndicator",
    },
    "fr": {
        "skip": "Aller au contenu",
        "directory_title": "{site} : flux",
        "directory_intro": (
            "Un flux liste les derniers articles d’un site. Donnez son adresse à un lecteur de "
            "flux (une application ou un service web) : il vous montre chaque nouvel article dès "
            "sa parution, sans compte sur ce site et sans pistage."
        ),
        "whole_site": "Tout le site",
        "category": "Catégorie",
        "tag": "Mot-clé",
        "categories": "Catégories",
        "tags": "Mots-clés",
        "items": {"one": "{n} article", "other": "{n} articles"},
        "updated": "mis à jour le {date}",
        "oldest": "le plus ancien du {date}",
        "follow": "Suivre ce flux",
        "addresses": "Son adresse, dans le format que votre lecteur préfère",
        "copy": "Copier",
        "copy_label": "Copier l’adresse {format}",
        "copied": "Adresse copiée : {url}",
        "open_in": "L’ouvrir dans mon lecteur",
        "reader_app": "Mon application de lecture de flux",
        "hub": (
            "Les lecteurs compatibles WebSub reçoivent les nouveaux articles aussitôt, "
            "par le hub {hub}."
        ),
        "webhooks": (
            "Les applications peuvent recevoir chaque nouvel article de ce flux en webhook "
            "signé, par l’API ({api})."
        ),
        "latest": "Derniers articles",
        "all_feeds": "Tous les flux",
        "find": "Trouver un flux",
        "filter": "Le nom contient",
        "sort": "Trier par",
        "sort_name": "Nom",
        "sort_size": "Nombre d’articles",
        "sort_recent": "Dernière mise à jour",
        "shown": "Flux affichés : {shown} sur {total}",
        "none_match": "Aucun flux de ce type ne correspond.",
        "opml": "Télécharger tous les flux en un fichier OPML, pour les importer d’un coup",
        "made_by": "Flux produits par syndicator",
    },
}


def ui_language(site_language: str) -> str:
    """The language of the words on the page: the site's (``fr-FR`` → ``fr``) when there is a
    table for it, else English."""
    primary = site_language.replace("_", "-").split("-")[0].lower()
    return primary if primary in LABELS else FALLBACK


Table = dict[str, dict[str, str | dict[str, str]]]


@dataclass(frozen=True)
class Labels:
    """The words of one language, and its way of writing dates and counts; ``table`` is the
    feed pages' own unless another part (the console) brings a larger one."""

    lang: str
    timezone: tzinfo
    table: Table = field(default_factory=lambda: LABELS)

    def __call__(self, key: str, **values: object) -> Markup:
        """The label, its placeholders filled with escaped values (or markup given as such)."""
        text = self.table[self.lang][key]
        assert isinstance(text, str), key
        return Markup(text).format(**values)

    def count(self, key: str, n: int) -> str:
        forms = self.table[self.lang][key]
        assert isinstance(forms, dict), key
        form = _locale(self.lang).plural_form(n)
        return forms.get(form, forms["other"]).format(n=_number(n, self.lang))

    def when(self, moment: datetime) -> Markup:
        """``<time>``: the day in words, in the site's time zone (the day an article appeared
        there), and the moment for machines."""
        return _time_element(moment, self.timezone, self.lang)

    def instant(self, moment: datetime | None) -> Markup:
        """``<time>``: the day and time to the second, in the site's time zone and named so;
        a dash when there is none."""
        if moment is None:
            return Markup("–")
        local = moment.astimezone(self.timezone)
        shown = format_datetime(local, "medium", tzinfo=self.timezone, locale=self.lang)
        shown += f" {local.tzname()}"
        return Markup(f'<time datetime="{local.isoformat()}">{escape(shown)}</time>')

    def number(self, n: float) -> str:
        return format_decimal(n, locale=self.lang)

    def load(self) -> None:
        """Read the language's data (plural rules, months: 8 ms) now, not for the first page:
        the processes forked to render pages then inherit it instead of each reading it."""
        _locale(self.lang).plural_form(1)


@lru_cache(maxsize=8)
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


@lru_cache(maxsize=4096)
def _long_date(day: date, lang: str) -> str:
    return format_date(day, "long", locale=lang)


# Pages show each item in several feeds: its dates are formatted once.
@lru_cache(maxsize=16384)
def _time_element(moment: datetime, timezone: tzinfo, lang: str) -> Markup:
    local = moment.astimezone(timezone)
    return Markup(
        f'<time datetime="{local.isoformat()}">{escape(_long_date(local.date(), lang))}</time>'
    )


def _number(n: int, lang: str) -> str:
    return format_decimal(n, locale=lang)
