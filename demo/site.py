"""The bundled demo site: a clinic, its blog and a small 'external' partner site, served on
fixed loopback ports, and the list of problems planted in it (see demo/site/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demo.server import HostSpec, PortBusyError, Route, SiteServer

SITE_DIR = Path(__file__).resolve().parent / "site"

# Fixed so that the demo's URLs, and so its weekly reports, stay comparable run after run.
DEMO_PORTS = {"clinic": 8461, "blog": 8462, "partner": 8463}
SITE_HOSTS = ("clinic", "blog")   # the site's own hosts; 'partner' stands in for the outside web

ARTICLE = "/resources/ketamine-therapy-for-depression"


def demo_hosts() -> dict[str, HostSpec]:
    """The three demo hosts: files from demo/site/<host>/ plus the clinic's redirects."""
    clinic_routes = {
        # An old URL kept alive by a single redirect (one hop: redirected_link).
        "/services/tms-old": Route.redirect("{{host:clinic}}/services/tms", status=301),
        # A booking link that passes through two redirects (redirect_chain).
        "/book": Route.redirect("{{host:clinic}}/appointments", status=302),
        "/appointments": Route.redirect("{{host:clinic}}/contact", status=301),
    }
    return {
        "clinic": HostSpec(root=SITE_DIR / "clinic", routes=clinic_routes),
        "blog": HostSpec(root=SITE_DIR / "blog"),
        "partner": HostSpec(root=SITE_DIR / "partner"),
    }


def start_demo_server(ports: dict[str, int] | None = None, *, fallback: bool = False) -> SiteServer:
    """Start the demo on DEMO_PORTS (or ``ports``) and return the running server.

    If a port is busy this raises PortBusyError (an OSError) naming it, unless ``fallback``
    is true, in which case every host gets a free port instead (URLs then differ from other runs)."""
    wanted = dict(DEMO_PORTS if ports is None else ports)
    try:
        return SiteServer(demo_hosts(), wanted).start()
    except PortBusyError as exc:
        if fallback:
            return SiteServer(demo_hosts(), {}).start()
        raise PortBusyError(
            exc.host, exc.port, "the port is already in use (is another demo still running?)",
            fix=f"Stop the program using port {exc.port}, or run the demo on free ports "
                "(start_demo_server(fallback=True)); its URLs then differ from earlier demo runs",
        ) from exc


@dataclass(frozen=True)
class Planted:
    """A problem planted on purpose, in the finding vocabulary of docs/contract.md.
    ``page`` and ``target`` are URLs with {{host:NAME}} placeholders ('' for no target)."""
    kind: str
    page: str
    target: str
    note: str

    def resolved(self, server: SiteServer) -> "Planted":
        """The same finding with real base URLs from a running server."""
        return Planted(self.kind, server.fill_placeholders(self.page),
                       server.fill_placeholders(self.target), self.note)


C, B, P = "{{host:clinic}}", "{{host:blog}}", "{{host:partner}}"
OFF_TOPIC_POSTS = (
    "/posts/agarwood-rare-fragrance-wood",
    "/posts/oud-perfume-guide",
    "/posts/ambitious-skyscraper-design",
    "/posts/elevators-vertical-transportation",
)

PLANTED: tuple[Planted, ...] = (
    # Links
    Planted("broken_link", C + ARTICLE, B + "/posts/signs-of-depresion",
            "typo in a cross-host slug (signs-of-depression): 404"),
    Planted("broken_link", B + "/posts/medication-myths", C + "/services/ketamine-infusions",
            "links a clinic page that does not exist: 404"),
    Planted("broken_link", B + "/posts/supporting-a-loved-one", B + "/contact",
            "relative href='/contact' meant for the clinic resolves on the blog host: 404"),
    Planted("broken_link", C + ARTICLE, P + "/studies/esketamine-trial-2019",
            "external link (partner host) to a page that does not exist: 404"),
    Planted("redirected_link", C + "/faq", C + "/services/tms-old",
            "301 to /services/tms (one hop)"),
    Planted("redirect_chain", B + "/posts/first-psychiatry-visit", C + "/book",
            "/book 302 -> /appointments 301 -> /contact 200"),
    Planted("missing_anchor", C + "/services/medication-management", C + "/faq#side-effects",
            "the FAQ has no id='side-effects'"),
    Planted("blocked_by_robots", C + "/careers", C + "/admin/",
            "robots.txt of the clinic disallows /admin/; must never be fetched"),
    Planted("orphan_page", C + "/holiday-hours", "",
            "listed in the clinic sitemap only; no page links to it"),
    # Content
    *(Planted("off_topic_page", B + post, "", "fragrance or tall-building post on a mental-health blog")
      for post in OFF_TOPIC_POSTS),
    *(Planted("off_topic_block", C + ARTICLE, B + post, "'...Read More' teaser around the article")
      for post in OFF_TOPIC_POSTS),
    Planted("hard_to_read", C + ARTICLE, "", "written far above grade 8 (about grade 18-22)"),
    Planted("long_sentence", C + ARTICLE, "", "many sentences of 30-46 words (the three longest are rows, the rest counted)"),
    # On-page
    Planted("missing_meta_description", C + "/careers", "", "no <meta name=description>"),
    Planted("missing_alt", C + "/team", C + "/static/team-photo.svg", "team photo has no alt text"),
    Planted("thin_content", C + "/holiday-hours", "", "about fifty words of main text"),
)
