"""Which clicks count: a person's browser yes; crawlers, spiders, link previews and
HTTP libraries no. Checked against the crawler-user-agents corpus (2,000+ real robot
agents, github.com/monperrus/crawler-user-agents, from PyPI) and against real
browsers' agents (the forms MDN and the vendors document), which must all count."""

from __future__ import annotations

import crawleruseragents
import pytest

from app.clicks.services import counted

CORPUS = sorted(
    {agent for crawler in crawleruseragents.CRAWLER_USER_AGENTS_DATA for agent in crawler.get("instances", [])}
)

# HTTP libraries and tools as they announce themselves (their default User-Agent).
LIBRARIES = [
    "python-requests/2.32.3",
    "python-httpx/0.27.0",
    "Python/3.11 aiohttp/3.9.5",
    "Python-urllib/3.11",
    "axios/1.7.2",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "okhttp/4.12.0",
    "Java/17.0.2",
    "Go-http-client/2.0",
    "curl/8.5.0",
    "Wget/1.21.4",
    "libwww-perl/6.72",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) PhantomJS/1.9.8 Safari/534.34",
    "Mozilla/5.0 (compatible; SomeNewCrawler/0.1; +https://example.org/crawler)",
    "ExampleSpider/2.0",
    "LinkPreview/1.0",
]

# Browsers people click with: desktop and mobile, the forms documented by MDN and the vendors.
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "Mozilla/5.0 (Linux; Android 12; CUBOT X50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
]


def test_no_robot_of_the_corpus_counts_as_a_click():
    assert len(CORPUS) > 2_000
    assert [agent for agent in CORPUS if counted("GET", agent)] == []


@pytest.mark.parametrize("agent", LIBRARIES)
def test_http_libraries_and_generic_robots_do_not_count(agent):
    assert not counted("GET", agent)


@pytest.mark.parametrize("agent", BROWSERS)
def test_a_persons_browser_counts(agent):
    assert counted("GET", agent)
    assert not counted("HEAD", agent)
