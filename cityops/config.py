"""Configuration from environment variables only, so any number of stateless workers
can run anywhere with the same settings."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The labelled development texts the benchmarks time, found from any working directory.
DEV_HOTLINE = PROJECT_ROOT / "tests" / "data" / "dev_hotline.jsonl"


# The secret a fresh checkout runs with: it signs accept and page links, so anyone who has
# read the source can sign their own while it is in use. Good for one machine only.
DEFAULT_SECRET = "dev-secret-change-me"
MIN_SECRET_BYTES = 32


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _var_dir() -> Path:
    """Where local state lives: Temporal's and our SQLite files, logs, the mail outbox."""
    return Path(_env("CITYOPS_VAR", str(PROJECT_ROOT / "var")))


def local_url(port: int) -> str:
    """The API on this machine: the public URL when CITYOPS_PUBLIC_URL is not set."""
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Settings:
    temporal_address: str = field(
        default_factory=lambda: _env("TEMPORAL_ADDRESS", "localhost:7233")
    )
    temporal_namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: _env("CITYOPS_TASK_QUEUE", "cityops-tickets"))
    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{_var_dir() / 'cityops.db'}")
    )
    var_dir: Path = field(default_factory=lambda: _var_dir())
    api_host: str = field(default_factory=lambda: _env("CITYOPS_API_HOST", "127.0.0.1"))
    api_port: int = field(default_factory=lambda: int(_env("CITYOPS_API_PORT", "8080")))
    # Where links in notices and pages point. Unset (or empty): this machine's API at its
    # own port, so moving CITYOPS_API_PORT moves the links with it (__post_init__).
    public_url: str = field(default_factory=lambda: _env("CITYOPS_PUBLIC_URL", ""))
    secret: str = field(default_factory=lambda: _env("CITYOPS_SECRET", DEFAULT_SECRET), repr=False)
    ui_port: int = field(default_factory=lambda: int(_env("CITYOPS_UI_PORT", "8233")))
    log_format: str = field(default_factory=lambda: _env("CITYOPS_LOG_FORMAT", "console"))
    # How the 12345 hotline's callback desk is reached: "kind:target", e.g. a webhook URL.
    hotline_contact: str = field(
        default_factory=lambda: _env(
            "CITYOPS_HOTLINE_CONTACT", "email:hotline@pudong.cityops.example"
        )
    )
    # How long the register keeps a closed ticket and its events (`cityops register purge`);
    # independent of Temporal's own retention of workflow histories.
    register_retention_days: int = field(
        default_factory=lambda: int(_env("CITYOPS_REGISTER_RETENTION_DAYS", "1095"))
    )
    # The jurisdiction_id Open311 clients name (GeoReport v2); any other is refused.
    open311_jurisdiction: str = field(
        default_factory=lambda: _env("CITYOPS_OPEN311_JURISDICTION", "pudong.shanghai")
    )
    # How the video platform gets re-check requests (video_recheck): "kind:target".
    camera_contact: str = field(
        default_factory=lambda: _env(
            "CITYOPS_CAMERA_CONTACT", "email:video-platform@pudong.cityops.example"
        )
    )
    # A secured Temporal cluster (Temporal Cloud or mTLS): an API key, or client cert + key.
    temporal_api_key: str = field(default_factory=lambda: _env("TEMPORAL_API_KEY", ""))
    temporal_tls_cert: str = field(default_factory=lambda: _env("TEMPORAL_TLS_CERT", ""))
    temporal_tls_key: str = field(default_factory=lambda: _env("TEMPORAL_TLS_KEY", ""))
    # Mail. With no SMTP_HOST, e-mail goes to the local outbox sink (var/outbox/) on
    # 127.0.0.1:SMTP_PORT, which `cityops up` starts; a standalone worker uses the same.
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", "127.0.0.1"))
    smtp_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "2525")))
    smtp_from: str = field(default_factory=lambda: _env("SMTP_FROM", "cityops@localhost"))
    smtp_from_name: str = field(default_factory=lambda: _env("SMTP_FROM_NAME", "城运中心"))
    smtp_user: str = field(default_factory=lambda: _env("SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("SMTP_PASSWORD", ""))
    smtp_starttls: bool = field(
        default_factory=lambda: _env("SMTP_STARTTLS", "").lower() in ("1", "true", "yes")
    )

    # The responder's page (docs/responder.md): after-photos are kept in a local directory
    # (CITYOPS_PHOTO_STORE=local, under CITYOPS_PHOTO_DIR) or an S3-compatible bucket (=s3).
    photo_store: str = field(default_factory=lambda: _env("CITYOPS_PHOTO_STORE", "local"))
    photo_dir: Path = field(
        default_factory=lambda: Path(_env("CITYOPS_PHOTO_DIR", str(_var_dir() / "photos")))
    )
    photo_max_bytes: int = field(
        default_factory=lambda: int(_env("CITYOPS_PHOTO_MAX_BYTES", str(10 * 1024 * 1024)))
    )
    s3_endpoint: str = field(default_factory=lambda: _env("CITYOPS_S3_ENDPOINT", ""))
    s3_bucket: str = field(default_factory=lambda: _env("CITYOPS_S3_BUCKET", "cityops-photos"))
    s3_region: str = field(default_factory=lambda: _env("CITYOPS_S3_REGION", "us-east-1"))
    s3_access_key: str = field(default_factory=lambda: _env("CITYOPS_S3_ACCESS_KEY", ""))
    s3_secret_key: str = field(default_factory=lambda: _env("CITYOPS_S3_SECRET_KEY", ""))
    # How long a page link still opens the person's "my tickets" list after it was sent.
    page_list_days: int = field(default_factory=lambda: int(_env("CITYOPS_PAGE_LIST_DAYS", "30")))

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", local_url(self.api_port))

    @property
    def uses_local_outbox(self) -> bool:
        """No mail relay is configured: the local sink keeps the messages."""
        return "SMTP_HOST" not in os.environ

    # Keys that encrypt callers' data (Temporal payloads, the register's contact columns):
    # CITYOPS_KEYS="id:base64,id:base64" (the last encrypts), else the key file, one
    # "id base64" a line. Never in the repository; docs/privacy.md.
    keys: str = field(default_factory=lambda: _env("CITYOPS_KEYS", ""), repr=False)
    key_file: Path = field(
        default_factory=lambda: Path(_env("CITYOPS_KEY_FILE", str(_var_dir() / "keys")))
    )
    # Browser origins of the Temporal UI allowed to call the codec server (comma-separated);
    # empty: the local UI at CITYOPS_UI_PORT on localhost and 127.0.0.1.
    codec_origins: str = field(default_factory=lambda: _env("CITYOPS_CODEC_ORIGINS", ""))

    def ui_origins(self) -> list[str]:
        configured = [o.strip().rstrip("/") for o in self.codec_origins.split(",") if o.strip()]
        return configured or [
            f"http://localhost:{self.ui_port}",
            f"http://127.0.0.1:{self.ui_port}",
        ]


def get_settings() -> Settings:
    return Settings()


class InsecureSecret(RuntimeError):
    """The API would be reachable from other machines with a secret anyone can know."""


def is_loopback(host: str) -> bool:
    """Whether a host name or address only this machine can reach (127.0.0.0/8, ::1,
    localhost). 0.0.0.0 and :: listen on every address: not loopback."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name: another machine may resolve it to us


def secret_weakness(secret: str) -> str | None:
    """What is wrong with the secret, or None when it is long enough and not the default."""
    if secret == DEFAULT_SECRET:
        return f"CITYOPS_SECRET is the default {DEFAULT_SECRET!r}, which anyone can read"
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"CITYOPS_SECRET is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def check_secret(settings: Settings) -> str | None:
    """Refuse (InsecureSecret) to serve beyond this machine with a weak secret: it signs
    the accept and page links, so a known or guessable one lets anyone accept any ticket.
    On loopback a weak secret is only a warning, returned for the caller to show."""
    weakness = secret_weakness(settings.secret)
    if weakness is None:
        return None
    exposed = []
    if not is_loopback(settings.api_host):
        exposed.append(f"CITYOPS_API_HOST={settings.api_host} is not a loopback address")
    public_host = urlsplit(settings.public_url).hostname or ""
    if not is_loopback(public_host):
        exposed.append(f"CITYOPS_PUBLIC_URL={settings.public_url} is not on this machine")
    fix = (
        f"set CITYOPS_SECRET to {MIN_SECRET_BYTES}+ random bytes, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` (docs/operations.md)"
    )
    if exposed:
        raise InsecureSecret(f"refusing to start: {weakness}, and {'; '.join(exposed)}: {fix}")
    return f"{weakness}: fine on this machine only; {fix} before serving others"


MAX_WORKERS = 16


def default_workers() -> int:
    """Ticket worker processes `cityops up` starts: CITYOPS_WORKERS, else one per core this
    process may use. A worker runs workflow code on one core at a time (Python's GIL), and
    the measured throughput grows with worker processes up to the cores
    (docs/performance.md); the Temporal server and the API share those cores."""
    configured = os.environ.get("CITYOPS_WORKERS", "").strip()
    if configured:
        return max(1, min(MAX_WORKERS, int(configured)))
    return max(1, min(MAX_WORKERS, usable_cores()))


def usable_cores() -> int:
    """Cores this process may run on (its affinity; all cores where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
