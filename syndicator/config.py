"""Configuration: ``config/syndicator.toml``, then ``SYNDICATOR_<SECTION>_<KEY>``, then flags.

Every key is optional (docs/contracts/config.md). Unknown sections and keys are refused rather than
ignored, because a misspelt key silently falling back to its default is the kind of mistake an
operator only finds in production.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndicator.vocabulary import FORMATS, FormatName, Role

DEFAULT_CONFIG_PATH = Path("config/syndicator.toml")
ENV_PREFIX = "SYNDICATOR_"


class ConfigError(Exception):
    """A configuration the service cannot run with (exit code 2)."""


@dataclass(frozen=True)
class SiteConfig:
    title: str = "syndicator"
    base_url: str = "http://127.0.0.1:8080"
    language: str = "fr"
    timezone: str = "Europe/Paris"
    author: str = ""
    description: str = ""


@dataclass(frozen=True)
class ContentConfig:
    dirs: tuple[str, ...] = ("seeds",)
    permalink: str = "/:collection/:slug/"
    permalinks: Mapping[str, str] = field(default_factory=dict)
    summary_keys: tuple[str, ...] = ("chapeau-text", "excerpt", "description", "summary")
    image_keys: tuple[str, ...] = ("image", "image-mise-en-avant", "une-ou-diaporama[0].image")
    author_keys: tuple[str, ...] = ("author", "auteur")
    external_url_keys: tuple[str, ...] = ("redirection", "redirect_to", "external_url")

    @property
    def paths(self) -> list[Path]:
        """The content folders, in the order given (the first one wins a key both hold)."""
        return [Path(d) for d in self.dirs]


@dataclass(frozen=True)
class FeedsConfig:
    formats: tuple[FormatName, ...] = tuple(FORMATS)
    max_items: int = 50
    full_content: bool = True
    # False: each feed is its newest max_items only, with no RFC 5005 archive pages or links.
    archives: bool = True


# "Open in my reader" links on feed pages: web readers' subscribe URLs, {url} being the feed's
# address, percent-encoded. The ``feed:`` link for an installed app is always there.
DEFAULT_READERS = {
    "Feedly": "https://feedly.com/i/subscription/feed%2F{url}",
    "Inoreader": "https://www.inoreader.com/?add_feed={url}",
    "NewsBlur": "https://www.newsblur.com/?url={url}",
    "The Old Reader": "https://theoldreader.com/feeds/subscribe?url={url}",
}


@dataclass(frozen=True)
class PagesConfig:
    readers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_READERS))


@dataclass(frozen=True)
class OutputConfig:
    dir: str = "public"


@dataclass(frozen=True)
class ScheduleConfig:
    scan_interval_seconds: float = 60.0
    watch: bool = True


@dataclass(frozen=True)
class WorkerConfig:
    role: Role = Role.ALL


@dataclass(frozen=True)
class StoreConfig:
    url: str = "sqlite:///var/syndicator.db"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    api_token: str = ""


@dataclass(frozen=True)
class PushConfig:
    timeout_seconds: float = 15.0
    # Seconds to wait after each failed attempt, the first delay following the first attempt:
    # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Standard Webhooks practice), about 27.6 h in all.
    retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    max_concurrency: int = 16
    allow_private_targets: bool = False
    announce_existing: bool = False
    # Days an event's settled deliveries and attempt logs are kept (docs/contracts/push.md).
    retention_days: float = 30.0


@dataclass(frozen=True)
class WebSubConfig:
    enabled: bool = True
    hub_url: str = ""
    max_lease_seconds: int = 864000


@dataclass(frozen=True)
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    pages: PagesConfig = field(default_factory=PagesConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    push: PushConfig = field(default_factory=PushConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)

    @property
    def base_url(self) -> str:
        """The site URL without a trailing slash, so paths join with a single ``/``."""
        return self.site.base_url.rstrip("/")

    @property
    def hub_url(self) -> str | None:
        """The WebSub hub feeds advertise, or None when the hub is off."""
        return self.hub_endpoint if self.websub.enabled else None

    @property
    def hub_endpoint(self) -> str:
        """Where the hub is: ``websub.hub_url``, or ``/hub`` on the site by default."""
        return self.websub.hub_url or f"{self.base_url}/hub"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read the file (a missing default file means all defaults), then apply the environment."""
    raw: dict[str, dict[str, Any]] = {}
    config_path = path or DEFAULT_CONFIG_PATH
    if config_path.exists():
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: {exc}") from exc
    elif path is not None:
        raise ConfigError(f"{config_path}: no such configuration file")
    for section, values in _env_values(os.environ if environ is None else environ).items():
        raw.setdefault(section, {}).update(values)
    config = _build(raw, source=str(config_path))
    _validate(config)
    return config


def _env_values(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    sections = {f.name for f in fields(Config)}
    found: dict[str, dict[str, Any]] = {}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in sections or not key:
            continue
        found.setdefault(section, {})[key] = _parse_env_value(text)
    return found


def _parse_env_value(text: str) -> Any:
    """Values are TOML literals when they parse as one (``["a", "b"]``, ``true``, ``50``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _build(raw: Mapping[str, Any], *, source: str) -> Config:
    sections: dict[str, Any] = {}
    hints = get_type_hints(Config)
    for name, values in raw.items():
        if name not in hints:
            raise ConfigError(f"{source}: unknown section [{name}]")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: [{name}] must be a table")
        sections[name] = _build_section(hints[name], name, values, source)
    return Config(**sections)


def _build_section(cls: type, name: str, values: Mapping[str, Any], source: str) -> Any:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"{source}: unknown key {name}.{key}")
        kwargs[key] = _coerce(hints[key], value, f"{name}.{key}", source)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str, source: str) -> Any:
    origin = get_origin(hint)
    try:
        if origin is tuple:
            (item_type, _) = get_args(hint)
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            if not isinstance(value, list | tuple):
                raise TypeError("expected a list")
            return tuple(_coerce(item_type, v, key, source) for v in value)
        if hint is Mapping[str, str] or origin is Mapping:
            if not isinstance(value, Mapping):
                raise TypeError("expected a table")
            return {str(k): str(v) for k, v in value.items()}
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                    raise TypeError("expected true or false")
                return value.lower() in {"true", "1", "yes"}
            if not isinstance(value, bool):
                raise TypeError("expected true or false")
            return value
        if origin is Literal:
            if value not in get_args(hint):
                raise ValueError(f"unknown value; use one of {get_args(hint)}")
            return value
        if isinstance(hint, type) and issubclass(hint, StrEnum):
            if value not in {member.value for member in hint}:
                raise ValueError(f"unknown value; use one of {tuple(m.value for m in hint)}")
            return hint(value)
        if hint in (int, float) and isinstance(value, bool):
            raise TypeError("expected a number")
        return hint(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {key}: {exc} (got {value!r})") from exc


def _validate(config: Config) -> None:
    try:
        ZoneInfo(config.site.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"site.timezone: unknown time zone {config.site.timezone!r}") from exc
    if not config.site.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"site.base_url: must be an http(s) URL, got {config.site.base_url!r}")
    if config.feeds.max_items < 1:
        raise ConfigError("feeds.max_items: must be at least 1")
    for name, pattern in config.pages.readers.items():
        if "{url}" not in pattern or not pattern.startswith(("http://", "https://")):
            raise ConfigError(f"pages.readers: {name!r} must be an http(s) URL with {{url}} in it")
    if not config.content.dirs:
        raise ConfigError("content.dirs: at least one content folder is needed")


def with_overrides(config: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy with some keys replaced, checked like the file (for command-line flags)."""
    hints = get_type_hints(Config)
    changes = {
        name: replace(
            getattr(config, name),
            **{
                k: _coerce(get_type_hints(hints[name])[k], v, f"{name}.{k}", "command line")
                for k, v in values.items()
            },
        )
        for name, values in sections.items()
    }
    result = replace(config, **changes)
    _validate(result)
    return result
